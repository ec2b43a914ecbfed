namespace CausalTap.Grpc;

/// <summary>What a server handler knows about its call and how it talks back outside the messages.</summary>
public abstract class ServerCallContext
{
    /// <summary>The request path, "/{service}/{method}".</summary>
    public abstract string Method { get; }

    /// <summary>The client's address, e.g. "ipv4:127.0.0.1:53122".</summary>
    public abstract string Peer { get; }

    /// <summary>Custom request headers (protocol headers such as grpc-timeout are not included).</summary>
    public abstract Metadata RequestHeaders { get; }

    /// <summary>The deadline from grpc-timeout (UTC), or <see cref="DateTime.MaxValue"/> when none was sent.</summary>
    public abstract DateTime Deadline { get; }

    /// <summary>Cancelled when the client cancels, the connection drops or the deadline passes.</summary>
    public abstract CancellationToken CancellationToken { get; }

    /// <summary>Trailers sent with the final status; handlers add to it.</summary>
    public abstract Metadata ResponseTrailers { get; }

    /// <summary>The status sent when the handler returns normally (default OK).</summary>
    public abstract Status Status { get; set; }

    /// <summary>Sends response headers now (at most once, before the first message).</summary>
    public abstract Task WriteResponseHeadersAsync(Metadata responseHeaders);
}
