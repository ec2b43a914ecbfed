namespace CausalTap.Grpc.Server;

/// <summary>Settings shared by every call served from one <see cref="GrpcServiceRegistry"/> mapping.</summary>
public sealed class GrpcServerOptions
{
    /// <summary>Largest request message accepted (bytes); a larger one ends the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest response message sent (bytes); a larger one makes the write throw RESOURCE_EXHAUSTED.</summary>
    public int MaxSendMessageSize { get; set; } = int.MaxValue;

    /// <summary>
    /// When true, an unexpected handler exception's type and message go into grpc-message.
    /// Off by default because exception text can leak internals to clients.
    /// </summary>
    public bool EnableDetailedErrors { get; set; }

    /// <summary>Upper bound applied to the client's grpc-timeout; null keeps the client's value.</summary>
    public TimeSpan? MaxTimeout { get; set; }

    /// <summary>Clock and timer source for deadlines; tests swap in a manual one so they never sleep.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}
