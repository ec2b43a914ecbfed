using Grpc.Core;

namespace CausalTap.Server;

/// <summary>Why the server refuses a request or a frame, in the domain's own words.</summary>
internal enum RejectionKind
{
    InvalidArgument,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    OutOfRange,
    Aborted,
    Unavailable,
    DataLoss,
    Unimplemented,
    Internal,
}

/// <summary>
/// A refused request, frame or command. Sessions, the engine and the model cache throw it; at the service edge
/// <see cref="TrackerCallInterceptor"/> turns it into a gRPC status, and in-band replies (FrameRejected,
/// CommandRejected) carry <see cref="WireStatus.Of"/> of its kind.
/// </summary>
internal sealed class RejectionException(RejectionKind kind, string message) : Exception(message)
{
    public RejectionKind Kind { get; } = kind;
}

/// <summary>The one mapping from domain rejections to gRPC status codes.</summary>
internal static class WireStatus
{
    public static StatusCode Of(RejectionKind kind) => kind switch
    {
        RejectionKind.InvalidArgument => StatusCode.InvalidArgument,
        RejectionKind.NotFound => StatusCode.NotFound,
        RejectionKind.AlreadyExists => StatusCode.AlreadyExists,
        RejectionKind.PermissionDenied => StatusCode.PermissionDenied,
        RejectionKind.ResourceExhausted => StatusCode.ResourceExhausted,
        RejectionKind.FailedPrecondition => StatusCode.FailedPrecondition,
        RejectionKind.OutOfRange => StatusCode.OutOfRange,
        RejectionKind.Aborted => StatusCode.Aborted,
        RejectionKind.Unavailable => StatusCode.Unavailable,
        RejectionKind.DataLoss => StatusCode.DataLoss,
        RejectionKind.Unimplemented => StatusCode.Unimplemented,
        _ => StatusCode.Internal,
    };

    public static RpcException ToRpcException(this RejectionException rejection) =>
        new(new Status(Of(rejection.Kind), rejection.Message));
}

/// <summary>Why a session closed (SessionInfo.close_reason), and what its subscribers are told.</summary>
internal static class CloseReasons
{
    public const string ByClient = "closed by client", TrackCallEnded = "track call ended", IdleTimeout = "idle timeout",
        Shutdown = "server shutdown", OpenFailed = "open failed";

    /// <summary>
    /// Null (the subscription ends OK) when the session ended normally: its client closed it or its Track call ended.
    /// Otherwise a status that says so: UNAVAILABLE when the server shuts down (come back later), ABORTED with the reason.
    /// </summary>
    public static RejectionException? SubscriberStatus(string sessionId, string reason) => reason switch
    {
        ByClient or TrackCallEnded => null,
        Shutdown => new RejectionException(RejectionKind.Unavailable, $"session {sessionId} closed: the server is shutting down"),
        _ => new RejectionException(RejectionKind.Aborted, $"session {sessionId} closed: {(reason.Length == 0 ? "closing" : reason)}"),
    };
}
