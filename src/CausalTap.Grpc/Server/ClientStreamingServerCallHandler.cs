using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Server;

/// <summary>Client streaming: a request stream in, one response message out.</summary>
internal sealed class ClientStreamingServerCallHandler<TRequest, TResponse> : ServerCallHandlerBase<TRequest, TResponse>
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    /// <summary>The user's handler.</summary>
    private readonly ClientStreamingServerMethod<TRequest, TResponse> _invoker;

    public ClientStreamingServerCallHandler(Method<TRequest, TResponse> method,
        ClientStreamingServerMethod<TRequest, TResponse> invoker, GrpcServerOptions options, ILogger logger)
        : base(method, options, logger)
    {
        _invoker = invoker;
    }

    protected override async Task HandleCallAsyncCore(HttpContextServerCallContext context)
    {
        var requestStream = new HttpContextStreamReader<TRequest>(context, Method.RequestParser);
        TResponse? response = await _invoker(requestStream, context).ConfigureAwait(false);
        await WriteSingleResponseAsync(context, response).ConfigureAwait(false);
    }
}
