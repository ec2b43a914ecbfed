using System.Net;
using Google.Protobuf;

namespace CausalTap.Grpc.Client;

/// <summary>
/// A connection target for gRPC calls. One channel owns one <see cref="HttpClient"/>, so every call shares its
/// HTTP/2 connections; create one per server and reuse it. Disposing it cancels the calls still running.
/// </summary>
public sealed class GrpcChannel : IDisposable
{
    /// <summary>Calls still running; guarded by itself. Disposal cancels them.</summary>
    private readonly HashSet<IGrpcCall> _activeCalls = new();
    private bool _disposed;

    private GrpcChannel(Uri address, GrpcChannelOptions options)
    {
        Address = address;
        MaxReceiveMessageSize = options.MaxReceiveMessageSize;
        MaxSendMessageSize = options.MaxSendMessageSize;
        bool ownsHandler = options.HttpHandler is null;
        HttpMessageHandler handler = options.HttpHandler ?? CreateDefaultHandler(options);
        HttpClient = new HttpClient(handler, disposeHandler: ownsHandler)
        {
            // Deadlines are per call; HttpClient's own 100 s default would kill long streams.
            Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    /// <summary>The server address, e.g. http://127.0.0.1:50051 (h2c) or https://host:443 (TLS, ALPN h2).</summary>
    public Uri Address { get; }

    internal HttpClient HttpClient { get; }

    internal int MaxReceiveMessageSize { get; }

    internal int MaxSendMessageSize { get; }

    /// <summary>Creates a channel. "http://" speaks HTTP/2 with prior knowledge (h2c); "https://" negotiates h2 over TLS.</summary>
    public static GrpcChannel ForAddress(string address, GrpcChannelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        var uri = new Uri(address, UriKind.Absolute);
        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"Address '{address}' must start with http:// or https://.", nameof(address));
        }
        options ??= new GrpcChannelOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxReceiveMessageSize);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxSendMessageSize);
        return new GrpcChannel(uri, options);
    }

    /// <summary>Starts a unary call.</summary>
    public AsyncUnaryCall<TResponse> UnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(request);
        var call = new GrpcCall<TRequest, TResponse>(this, method, options);
        call.StartUnary(request);
        return new AsyncUnaryCall<TResponse>(call.ReadSingleResponseAsync(), call);
    }

    /// <summary>Starts a client-streaming call; the request body stays open until RequestStream.CompleteAsync.</summary>
    public AsyncClientStreamingCall<TRequest, TResponse> ClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var call = new GrpcCall<TRequest, TResponse>(this, method, options);
        call.StartStreaming();
        return new AsyncClientStreamingCall<TRequest, TResponse>(call.RequestWriter!, call.ReadSingleResponseAsync(), call);
    }

    /// <summary>Starts a server-streaming call.</summary>
    public AsyncServerStreamingCall<TResponse> ServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(request);
        var call = new GrpcCall<TRequest, TResponse>(this, method, options);
        call.StartUnary(request);
        return new AsyncServerStreamingCall<TResponse>(new ResponseStreamReader<TRequest, TResponse>(call), call);
    }

    /// <summary>Starts a bidirectional streaming call.</summary>
    public AsyncDuplexStreamingCall<TRequest, TResponse> DuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var call = new GrpcCall<TRequest, TResponse>(this, method, options);
        call.StartStreaming();
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(call.RequestWriter!, new ResponseStreamReader<TRequest, TResponse>(call), call);
    }

    /// <summary>Cancels running calls and closes the connections (a caller-supplied handler is left open).</summary>
    public void Dispose()
    {
        IGrpcCall[] calls;
        lock (_activeCalls)
        {
            if (_disposed) return;
            _disposed = true;
            calls = _activeCalls.ToArray();
            _activeCalls.Clear();
        }
        foreach (IGrpcCall call in calls) call.Cancel(new Status(StatusCode.Cancelled, "The channel was disposed."));
        HttpClient.Dispose();
    }

    internal bool TryRegister(IGrpcCall call)
    {
        lock (_activeCalls)
        {
            return !_disposed && _activeCalls.Add(call);
        }
    }

    internal void Unregister(IGrpcCall call)
    {
        lock (_activeCalls) _activeCalls.Remove(call);
    }

    /// <summary>One pooled HTTP/2 handler per channel, tuned for long-lived streams.</summary>
    private static SocketsHttpHandler CreateDefaultHandler(GrpcChannelOptions options) => new()
    {
        // Streams are limited to ~100 per connection by servers; open more connections instead of queueing.
        EnableMultipleHttp2Connections = true,
        // Keep the connection through quiet periods so the next call does not pay for a handshake.
        PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        KeepAlivePingDelay = options.KeepAlivePingDelay,
        KeepAlivePingTimeout = options.KeepAlivePingTimeout,
        // Only ping while calls run: gRPC servers punish pings on idle connections (GOAWAY too_many_pings).
        KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
        AutomaticDecompression = DecompressionMethods.None,
        AllowAutoRedirect = false,
        UseCookies = false,
    };
}
