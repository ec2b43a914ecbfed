using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Server;

/// <summary>Duplex streaming: request and response streams, both open until the handler returns.</summary>
internal sealed class DuplexStreamingServerCallHandler<TRequest, TResponse> : ServerCallHandlerBase<TRequest, TResponse>
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    /// <summary>The user's handler.</summary>
    private readonly DuplexStreamingServerMethod<TRequest, TResponse> _invoker;

    public DuplexStreamingServerCallHandler(Method<TRequest, TResponse> method,
        DuplexStreamingServerMethod<TRequest, TResponse> invoker, GrpcServerOptions options, ILogger logger)
        : base(method, options, logger)
    {
        _invoker = invoker;
    }

    protected override async Task HandleCallAsyncCore(HttpContextServerCallContext context)
    {
        var requestStream = new HttpContextStreamReader<TRequest>(context, Method.RequestParser);
        var responseStream = new HttpContextStreamWriter<TResponse>(context);
        await _invoker(requestStream, responseStream, context).ConfigureAwait(false);
    }
}
