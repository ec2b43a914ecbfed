namespace CausalTap.Grpc;

/// <summary>
/// Thrown by a handler to end its call with <see cref="Status"/>, and thrown by the client when a call ends
/// with a non-OK status. <see cref="Trailers"/> travel with the status.
/// </summary>
public sealed class RpcException : Exception
{
    public RpcException(Status status, Metadata? trailers = null, string? message = null)
        : base(message ?? $"Status(StatusCode=\"{status.StatusCode}\", Detail=\"{status.Detail}\")")
    {
        Status = status;
        Trailers = trailers ?? new Metadata();
    }

    public RpcException(StatusCode code, string detail) : this(new Status(code, detail)) { }

    public Status Status { get; }

    public StatusCode StatusCode => Status.StatusCode;

    public Metadata Trailers { get; }
}
