using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Server;

/// <summary>Every server log message, as source-generated partials with fixed EventIds (stable for log queries).</summary>
internal static partial class GrpcServerLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, EventName = "RpcConnectionError",
        Message = "Call {Method} failed with status {StatusCode}: '{Detail}'.")]
    public static partial void CallFailed(ILogger logger, string method, StatusCode statusCode, string detail);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, EventName = "ErrorExecutingServiceMethod",
        Message = "Error when executing service method '{Method}'.")]
    public static partial void HandlerThrew(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, EventName = "DeadlineExceeded",
        Message = "Request deadline of {Timeout} exceeded for '{Method}'.")]
    public static partial void DeadlineExceeded(ILogger logger, string method, TimeSpan timeout);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, EventName = "InvalidTimeoutIgnored",
        Message = "Invalid grpc-timeout header value '{Value}' ignored for '{Method}'.")]
    public static partial void InvalidTimeoutIgnored(ILogger logger, string method, string value);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, EventName = "UnsupportedRequest",
        Message = "Request to '{Path}' rejected with HTTP {HttpStatus}: {Reason}")]
    public static partial void UnsupportedRequest(ILogger logger, string path, int httpStatus, string reason);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, EventName = "UnimplementedMethod",
        Message = "No gRPC method is mapped to '{Path}'.")]
    public static partial void UnimplementedMethod(ILogger logger, string path);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, EventName = "CallCancelledByClient",
        Message = "Call '{Method}' was cancelled by the client.")]
    public static partial void CallCancelledByClient(ILogger logger, string method);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, EventName = "DeadlineStreamReset",
        Message = "Could not complete '{Method}' cleanly after its deadline; the stream was reset.")]
    public static partial void DeadlineStreamReset(ILogger logger, string method, Exception? exception);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, EventName = "InvalidMetadataSkipped",
        Message = "Request header '{Key}' of '{Method}' is not valid gRPC metadata and was skipped.")]
    public static partial void InvalidMetadataSkipped(ILogger logger, string method, string key);
}
