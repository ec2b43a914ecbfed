namespace CausalTap.Grpc.Client;

/// <summary>Settings of a <see cref="GrpcChannel"/>; read once when the channel is created.</summary>
public sealed class GrpcChannelOptions
{
    /// <summary>Largest response message accepted; a bigger one ends the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest request message sent; a bigger one fails with RESOURCE_EXHAUSTED before it is sent.</summary>
    public int MaxSendMessageSize { get; set; } = int.MaxValue;

    /// <summary>
    /// Handler to send requests through (tests, custom TLS). The channel does not dispose it.
    /// When null the channel builds and owns a <see cref="SocketsHttpHandler"/> tuned for long-lived HTTP/2.
    /// </summary>
    public HttpMessageHandler? HttpHandler { get; set; }

    /// <summary>HTTP/2 PING interval on an idle connection, so dead peers are noticed (default handler only).</summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a PING may go unanswered before the connection is dropped (default handler only).</summary>
    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(20);
}
