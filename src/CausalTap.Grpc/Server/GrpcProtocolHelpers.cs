using System.Globalization;
using System.Net.Sockets;
using CausalTap.Grpc.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Server;

/// <summary>Server-side protocol chores: request checks, status placement, metadata conversion.</summary>
internal static class GrpcProtocolHelpers
{
    /// <summary>The only message encoding this implementation speaks.</summary>
    public const string IdentityEncoding = "identity";

    /// <summary>
    /// "application/grpc", "application/grpc+proto" or either with parameters. "+json" and other sub-types
    /// are gRPC but not something we can parse, so they count as unsupported (HTTP 415).
    /// </summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ProtocolHeaders.ContentType, StringComparison.OrdinalIgnoreCase))
            return false;
        ReadOnlySpan<char> rest = contentType.AsSpan(ProtocolHeaders.ContentType.Length);
        if (rest.StartsWith("+proto", StringComparison.OrdinalIgnoreCase)) rest = rest.Slice("+proto".Length);
        return rest.IsEmpty || rest[0] == ';';
    }

    /// <summary>
    /// Checks everything that must hold before a handler may run. On failure the response is already set
    /// (HTTP error or trailers-only gRPC status) and the caller just returns.
    /// </summary>
    public static bool ValidateRequest(HttpContext httpContext, ILogger logger)
    {
        HttpRequest request = httpContext.Request;
        HttpResponse response = httpContext.Response;
        if (!HttpMethods.IsPost(request.Method))
        {
            response.Headers.Allow = "POST";
            return Reject(httpContext, logger, StatusCodes.Status405MethodNotAllowed, $"Method '{request.Method}' is not supported; gRPC needs POST.");
        }
        // Trailers carry the status, so HTTP/1.1 cannot work (grpc-web is not implemented).
        if (!HttpProtocol.IsHttp2(request.Protocol) && !HttpProtocol.IsHttp3(request.Protocol))
        {
            return Reject(httpContext, logger, StatusCodes.Status426UpgradeRequired, $"Request protocol '{request.Protocol}' is not supported.");
        }
        // PROTOCOL-HTTP2: a content-type that is not application/grpc gets HTTP 415.
        if (!IsGrpcContentType(request.ContentType))
        {
            return Reject(httpContext, logger, StatusCodes.Status415UnsupportedMediaType, $"Content-Type '{request.ContentType}' is not supported.");
        }
        string? encoding = request.Headers[ProtocolHeaders.EncodingHeader];
        if (!string.IsNullOrEmpty(encoding) && !string.Equals(encoding, IdentityEncoding, StringComparison.OrdinalIgnoreCase))
        {
            // Tell the client what we do accept so it can retry uncompressed.
            response.Headers[ProtocolHeaders.AcceptEncodingHeader] = IdentityEncoding;
            var status = new Status(StatusCode.Unimplemented, $"Unsupported grpc-encoding value '{encoding}'. Supported encodings: identity");
            GrpcServerLog.CallFailed(logger, request.Path, status.StatusCode, status.Detail);
            WriteStatus(response, status, trailers: null);
            return false;
        }
        return true;
    }

    private static bool Reject(HttpContext httpContext, ILogger logger, int httpStatus, string reason)
    {
        GrpcServerLog.UnsupportedRequest(logger, httpContext.Request.Path, httpStatus, reason);
        HttpResponse response = httpContext.Response;
        response.StatusCode = httpStatus;
        // A gRPC status as well, so a gRPC client gets a readable reason instead of a bare HTTP code.
        response.Headers[ProtocolHeaders.StatusTrailer] = ((int)StatusCode.Internal).ToString(CultureInfo.InvariantCulture);
        response.Headers[ProtocolHeaders.MessageTrailer] = ProtocolHeaders.PercentEncode(reason);
        return false;
    }

    /// <summary>
    /// Writes the final status: into the response headers (trailers-only) when nothing was sent yet,
    /// otherwise into real HTTP/2 trailers after the messages.
    /// </summary>
    public static void WriteStatus(HttpResponse response, Status status, Metadata? trailers)
    {
        string code = ((int)status.StatusCode).ToString(CultureInfo.InvariantCulture);
        if (!response.HasStarted)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = ProtocolHeaders.ContentType;
            IHeaderDictionary headers = response.Headers;
            headers[ProtocolHeaders.StatusTrailer] = code;
            if (!string.IsNullOrEmpty(status.Detail)) headers[ProtocolHeaders.MessageTrailer] = ProtocolHeaders.PercentEncode(status.Detail);
            if (trailers is not null)
            {
                foreach (Metadata.Entry entry in trailers) headers.Append(entry.Key, EncodeValue(entry));
            }
            return;
        }
        response.AppendTrailer(ProtocolHeaders.StatusTrailer, code);
        if (!string.IsNullOrEmpty(status.Detail)) response.AppendTrailer(ProtocolHeaders.MessageTrailer, ProtocolHeaders.PercentEncode(status.Detail));
        if (trailers is not null)
        {
            foreach (Metadata.Entry entry in trailers) response.AppendTrailer(entry.Key, EncodeValue(entry));
        }
    }

    /// <summary>Wire form of a metadata value: "-bin" values as unpadded base64, others as they are.</summary>
    public static string EncodeValue(Metadata.Entry entry) =>
        entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes).TrimEnd('=') : entry.Value;

    /// <summary>Decodes base64 with or without '=' padding (the spec allows senders to omit it).</summary>
    public static bool TryDecodeBase64(string value, out byte[] bytes)
    {
        string s = value.Trim();
        int pad = (4 - s.Length % 4) % 4;
        if (pad == 3) { bytes = Array.Empty<byte>(); return false; }
        if (pad > 0 && !s.EndsWith('=')) s += new string('=', pad);
        try
        {
            bytes = Convert.FromBase64String(s);
            return true;
        }
        catch (FormatException)
        {
            bytes = Array.Empty<byte>();
            return false;
        }
    }

    /// <summary>
    /// Every request header that is not reserved by HTTP/2 or gRPC. Headers that are not valid metadata
    /// (bad base64, non-ASCII) are skipped rather than failing the call.
    /// </summary>
    public static Metadata CreateRequestMetadata(HttpRequest request, ILogger logger, string method)
    {
        var metadata = new Metadata();
        foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> header in request.Headers)
        {
            // Kestrel reports known headers in canonical casing ("Content-Type"); metadata keys are lower-case.
            string key = header.Key.ToLowerInvariant();
            if (ProtocolHeaders.IsReserved(key)) continue;
            bool binary = Metadata.Entry.IsBinaryKey(key);
            foreach (string? raw in header.Value)
            {
                if (raw is null) continue;
                try
                {
                    if (!binary)
                    {
                        metadata.Add(key, raw);
                        continue;
                    }
                    // Several binary values may arrive comma-joined in one header.
                    foreach (string part in raw.Split(','))
                    {
                        if (TryDecodeBase64(part, out byte[] bytes)) metadata.Add(key, bytes);
                        else GrpcServerLog.InvalidMetadataSkipped(logger, method, key);
                    }
                }
                catch (ArgumentException)
                {
                    GrpcServerLog.InvalidMetadataSkipped(logger, method, key);
                }
            }
        }
        return metadata;
    }

    /// <summary>The peer in gRPC's notation: "ipv4:127.0.0.1:5000" or "ipv6:[::1]:5000".</summary>
    public static string GetPeer(HttpContext httpContext)
    {
        ConnectionInfo connection = httpContext.Connection;
        if (connection.RemoteIpAddress is null) return "unknown";
        return connection.RemoteIpAddress.AddressFamily == AddressFamily.InterNetworkV6
            ? $"ipv6:[{connection.RemoteIpAddress}]:{connection.RemotePort}"
            : $"ipv4:{connection.RemoteIpAddress}:{connection.RemotePort}";
    }

    /// <summary>
    /// Lifts Kestrel's whole-body size limit (our per-message limit is the real guard) and, for streaming
    /// calls, the minimum data rates: a quiet stream is normal for gRPC, not a slow-loris attack.
    /// </summary>
    public static void LiftRequestLimits(HttpContext httpContext, bool streaming)
    {
        IFeatureCollection features = httpContext.Features;
        if (features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            bodySize.MaxRequestBodySize = null;
        if (!streaming) return;
        if (features.Get<IHttpMinRequestBodyDataRateFeature>() is { } requestRate)
            requestRate.MinDataRate = null;
        if (features.Get<IHttpMinResponseDataRateFeature>() is { } responseRate)
            responseRate.MinDataRate = null;
    }
}
