using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace CausalTap.Server;

/// <summary>
/// The service edge of every Tracker (and reflection) call: the bearer-token check first (constant-time), then the
/// handler; a domain <see cref="RejectionException"/> becomes its gRPC status, and every error status gets one log
/// line. Health is not intercepted: probes carry no token.
/// </summary>
internal sealed class TrackerCallInterceptor : Interceptor
{
    /// <summary>"Bearer &lt;token&gt;" as bytes, or null when auth is off.</summary>
    private readonly byte[]? _expectedAuthorization;
    private readonly ILogger _logger;

    public TrackerCallInterceptor(string? authToken, ILogger logger)
    {
        _expectedAuthorization = authToken is null ? null : Encoding.ASCII.GetBytes($"Bearer {authToken}");
        _logger = logger;
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation) =>
        Run(context, () => continuation(request, context));

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        Run(context, () => continuation(requestStream, context));

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        Run(context, async () => { await continuation(request, responseStream, context).ConfigureAwait(false); return 0; });

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        Run(context, async () => { await continuation(requestStream, responseStream, context).ConfigureAwait(false); return 0; });

    private void Authorize(ServerCallContext context)
    {
        if (_expectedAuthorization is null) return;
        string? header = context.RequestHeaders.GetValue("authorization");
        if (header is null) throw new RpcException(new Status(StatusCode.Unauthenticated, "this server needs `authorization: Bearer <token>` metadata"));
        // The scheme is case-insensitive (RFC 7235); the token is compared in constant time.
        const string scheme = "Bearer ";
        if (header.Length > scheme.Length && header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            header = scheme + header[scheme.Length..];
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(header), _expectedAuthorization))
            throw new RpcException(new Status(StatusCode.Unauthenticated, "bad bearer token"));
    }

    private async Task<T> Run<T>(ServerCallContext context, Func<Task<T>> body)
    {
        try
        {
            Authorize(context);
            return await body().ConfigureAwait(false);
        }
        catch (RejectionException ex)
        {
            ServerLog.CallFailed(_logger, context.Method, context.Peer, WireStatus.Of(ex.Kind), ex.Message);
            throw ex.ToRpcException();
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled)
        {
            ServerLog.CallFailed(_logger, context.Method, context.Peer, ex.StatusCode, ex.Status.Detail);
            throw;
        }
    }
}
