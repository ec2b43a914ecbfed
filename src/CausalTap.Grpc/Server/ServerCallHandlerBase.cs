using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Server;

/// <summary>
/// The work every call type shares: protocol checks, the call context, ending the call and turning handler
/// errors into a status. Subclasses only read requests, invoke the user's delegate and write responses.
/// </summary>
internal abstract class ServerCallHandlerBase<TRequest, TResponse> : ServerCallHandler
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    protected ServerCallHandlerBase(Method<TRequest, TResponse> method, GrpcServerOptions options, ILogger logger)
    {
        Method = method;
        Options = options;
        Logger = logger;
    }

    protected Method<TRequest, TResponse> Method { get; }
    protected GrpcServerOptions Options { get; }
    protected ILogger Logger { get; }

    public sealed override async Task HandleCallAsync(HttpContext httpContext)
    {
        if (!GrpcProtocolHelpers.ValidateRequest(httpContext, Logger)) return;
        GrpcProtocolHelpers.LiftRequestLimits(httpContext, streaming: Method.Type != MethodType.Unary);

        var context = new HttpContextServerCallContext(httpContext, Method.FullName, Options, Logger);
        try
        {
            context.Initialize();
            await HandleCallAsyncCore(context).ConfigureAwait(false);
            await context.EndCallAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await context.ProcessHandlerErrorAsync(ex).ConfigureAwait(false);
        }
        finally
        {
            await context.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Reads the request(s), runs the user's delegate and writes the response(s).</summary>
    protected abstract Task HandleCallAsyncCore(HttpContextServerCallContext context);

    /// <summary>Writes the single response of a unary or client-streaming call, unless the handler set an error status.</summary>
    protected static async Task WriteSingleResponseAsync(HttpContextServerCallContext context, TResponse? response)
    {
        // A handler that sets a non-OK Status means "fail": the response is not sent (trailers-only).
        if (context.Status.StatusCode != StatusCode.OK) return;
        if (response is null) throw new RpcException(StatusCode.Internal, "No message returned from method.");
        await context.WriteMessageAsync(response, context.CancellationToken).ConfigureAwait(false);
    }
}
