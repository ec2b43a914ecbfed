using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Server;

/// <summary>Unary: exactly one request message in, one response message out.</summary>
internal sealed class UnaryServerCallHandler<TRequest, TResponse> : ServerCallHandlerBase<TRequest, TResponse>
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    /// <summary>The user's handler.</summary>
    private readonly UnaryServerMethod<TRequest, TResponse> _invoker;

    public UnaryServerCallHandler(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse> invoker,
        GrpcServerOptions options, ILogger logger)
        : base(method, options, logger)
    {
        _invoker = invoker;
    }

    protected override async Task HandleCallAsyncCore(HttpContextServerCallContext context)
    {
        TRequest request = await context.ReadSingleMessageAsync(Method.RequestParser).ConfigureAwait(false);
        TResponse? response = await _invoker(request, context).ConfigureAwait(false);
        await WriteSingleResponseAsync(context, response).ConfigureAwait(false);
    }
}
