namespace CausalTap.Grpc;

/// <summary>Per-call client options: request headers, deadline (sent as grpc-timeout) and cancellation.</summary>
public readonly record struct CallOptions(
    Metadata? Headers = null,
    DateTime? Deadline = null,
    CancellationToken CancellationToken = default);
