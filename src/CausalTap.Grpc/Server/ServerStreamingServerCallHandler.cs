using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Server;

/// <summary>Server streaming: exactly one request message in, a response stream out.</summary>
internal sealed class ServerStreamingServerCallHandler<TRequest, TResponse> : ServerCallHandlerBase<TRequest, TResponse>
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    /// <summary>The user's handler.</summary>
    private readonly ServerStreamingServerMethod<TRequest, TResponse> _invoker;

    public ServerStreamingServerCallHandler(Method<TRequest, TResponse> method,
        ServerStreamingServerMethod<TRequest, TResponse> invoker, GrpcServerOptions options, ILogger logger)
        : base(method, options, logger)
    {
        _invoker = invoker;
    }

    protected override async Task HandleCallAsyncCore(HttpContextServerCallContext context)
    {
        TRequest request = await context.ReadSingleMessageAsync(Method.RequestParser).ConfigureAwait(false);
        var responseStream = new HttpContextStreamWriter<TResponse>(context);
        await _invoker(request, responseStream, context).ConfigureAwait(false);
    }
}
