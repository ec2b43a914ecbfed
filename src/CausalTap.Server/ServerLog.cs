using Microsoft.Extensions.Logging;

namespace CausalTap.Server;

/// <summary>Every log line of the server, with fixed event ids (category "CausalTap.Server").</summary>
internal static partial class ServerLog
{
    public const string Category = "CausalTap.Server";

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Listening on {Address} (tls: {Tls}, auth: {Auth}).")]
    public static partial void Listening(ILogger logger, string address, bool tls, bool auth);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "{Message}")]
    public static partial void Warning(ILogger logger, string message);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Shutting down: draining {Sessions} sessions.")]
    public static partial void ShuttingDown(ILogger logger, int sessions);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Stopped.")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "ONNX Runtime {Version}; execution providers: {Providers}.")]
    public static partial void OnnxRuntime(ILogger logger, string version, string providers);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "Default execution {Provider}.")]
    public static partial void DefaultProvider(ILogger logger, string provider);

    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "Model {Model} loaded: {Provider}.")]
    public static partial void ModelLoaded(ILogger logger, string model, string provider);

    [LoggerMessage(EventId = 110, Level = LogLevel.Information,
        Message = "Session {SessionId} opened: camera '{CameraId}', model {Model} ({Method}) on {Provider}, ingest {Policy}/{Queue}{Recording}.")]
    public static partial void SessionOpened(ILogger logger, string sessionId, string cameraId, string model, string method, string provider,
        string policy, int queue, string recording);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information,
        Message = "Session {SessionId} closed ({Reason}): {Processed} frames processed, {Dropped} dropped, {Rejected} rejected.")]
    public static partial void SessionClosed(ILogger logger, string sessionId, string reason, long processed, long dropped, long rejected);

    [LoggerMessage(EventId = 120, Level = LogLevel.Warning,
        Message = "Session {SessionId}: frame {Sequence} rejected ({Code}): {Reason} (+{Suppressed} more not logged in the last second).")]
    public static partial void FrameRejected(ILogger logger, string sessionId, ulong sequence, RejectionKind code, string reason, int suppressed);

    [LoggerMessage(EventId = 123, Level = LogLevel.Warning, Message = "Session {SessionId}: capture clock stepped back {StepMs} ms at frame {Sequence}; re-based on it.")]
    public static partial void ClockRebased(ILogger logger, string sessionId, ulong sequence, double stepMs);

    [LoggerMessage(EventId = 121, Level = LogLevel.Error, Message = "Session {SessionId}: the engine failed on frame {Sequence}.")]
    public static partial void EngineFailed(ILogger logger, string sessionId, ulong sequence, Exception exception);

    [LoggerMessage(EventId = 122, Level = LogLevel.Error, Message = "Session {SessionId}: recording to {Path} failed; recording stopped, tracking goes on.")]
    public static partial void RecordingFailed(ILogger logger, string sessionId, string path, Exception exception);

    [LoggerMessage(EventId = 130, Level = LogLevel.Warning, Message = "{Method} from {Peer} failed: {Code} {Detail}")]
    public static partial void CallFailed(ILogger logger, string method, string peer, Grpc.Core.StatusCode code, string detail);
}
