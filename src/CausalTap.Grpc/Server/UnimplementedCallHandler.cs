using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Server;

/// <summary>
/// The catch-all behind every mapped method: a gRPC request for an unknown path gets UNIMPLEMENTED
/// (trailers-only); anything else is not ours and gets a plain 404.
/// </summary>
internal sealed class UnimplementedCallHandler : ServerCallHandler
{
    /// <summary>The server's logger.</summary>
    private readonly ILogger _logger;

    public UnimplementedCallHandler(ILogger logger)
    {
        _logger = logger;
    }

    public override Task HandleCallAsync(HttpContext httpContext)
    {
        if (!GrpcProtocolHelpers.IsGrpcContentType(httpContext.Request.ContentType))
        {
            httpContext.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }
        string path = httpContext.Request.Path.Value ?? "/";
        GrpcServerLog.UnimplementedMethod(_logger, path);
        GrpcProtocolHelpers.WriteStatus(httpContext.Response, new Status(StatusCode.Unimplemented, $"Method not found: {path}"), trailers: null);
        return Task.CompletedTask;
    }
}
