using System.Net.Http.Headers;
using System.Net.Sockets;
using CausalTap.Grpc.Internal;

namespace CausalTap.Grpc.Client;

/// <summary>
/// Client-side rules of gRPC over HTTP/2 (PROTOCOL-HTTP2.md) that need no call state: request headers,
/// reading status and metadata off a response, and turning transport failures into a <see cref="Status"/>.
/// </summary>
internal static class GrpcClientProtocol
{
    public const string UserAgent = "causaltap-grpc/0.1";

    /// <summary>The longest grpc-timeout we put on the wire; keeps EncodeTimeout's arithmetic far from overflow.</summary>
    public static readonly TimeSpan MaxWireTimeout = TimeSpan.FromDays(365 * 100);

    /// <summary>Adds the protocol headers and the caller's metadata to a request.</summary>
    public static void AddRequestHeaders(HttpRequestMessage request, Metadata? headers, TimeSpan? timeout)
    {
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        request.Headers.TryAddWithoutValidation("user-agent", UserAgent);
        request.Headers.TryAddWithoutValidation(ProtocolHeaders.AcceptEncodingHeader, "identity");
        if (timeout is { } t)
        {
            request.Headers.TryAddWithoutValidation(ProtocolHeaders.TimeoutHeader,
                ProtocolHeaders.EncodeTimeout(t < MaxWireTimeout ? t : MaxWireTimeout));
        }
        if (headers is null) return;
        foreach (Metadata.Entry entry in headers)
        {
            // The transport owns these; letting metadata override them would break the call.
            if (ProtocolHeaders.IsReserved(entry.Key)) continue;
            // Binary values go out as unpadded base64 (the spec lets receivers accept both).
            string value = entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes).TrimEnd('=') : entry.Value;
            if (!request.Headers.TryAddWithoutValidation(entry.Key, value))
            {
                // HttpClient files a few names (content-language...) under content headers.
                request.Content?.Headers.TryAddWithoutValidation(entry.Key, value);
            }
        }
    }

    /// <summary>
    /// Checks response headers. Returns a status when they already end the call (bad HTTP status or
    /// content-type); null when the body should be read. Trailers-only responses are read as a body that is empty.
    /// </summary>
    public static Status? ValidateResponseHeaders(HttpResponseMessage response)
    {
        // A grpc-status in the headers is authoritative whatever the HTTP status (spec: "must be used").
        if (HasStatus(response.Headers)) return null;
        int http = (int)response.StatusCode;
        if (http != 200)
        {
            return new Status(MapHttpStatus(http), $"Bad gRPC response. HTTP status code: {http}.");
        }
        string? contentType = GetHeader(response.Content.Headers, "content-type");
        if (!IsGrpcContentType(contentType))
        {
            return new Status(StatusCode.Internal, $"Bad gRPC response. Invalid content-type value: '{contentType}'.");
        }
        return null;
    }

    /// <summary>HTTP status -> gRPC code for responses without grpc-status (http-grpc-status-mapping.md).</summary>
    public static StatusCode MapHttpStatus(int httpStatus) => httpStatus switch
    {
        >= 100 and < 200 => StatusCode.Internal,
        400 or 431 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };

    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ProtocolHeaders.ContentType, StringComparison.OrdinalIgnoreCase)) return false;
        if (contentType.Length == ProtocolHeaders.ContentType.Length) return true;
        char next = contentType[ProtocolHeaders.ContentType.Length];
        return next is '+' or ';';
    }

    public static bool HasStatus(HttpHeaders headers) => GetHeader(headers, ProtocolHeaders.StatusTrailer) is not null;

    /// <summary>Reads grpc-status / grpc-message; a missing status is INTERNAL (the stream ended without one).</summary>
    public static Status ReadStatus(HttpHeaders headers)
    {
        string? code = GetHeader(headers, ProtocolHeaders.StatusTrailer);
        if (code is null) return new Status(StatusCode.Internal, "No grpc-status found on response.");
        string detail = ProtocolHeaders.PercentDecode(GetHeader(headers, ProtocolHeaders.MessageTrailer) ?? "");
        if (!int.TryParse(code, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int value))
        {
            return new Status(StatusCode.Unknown, $"Unexpected grpc-status value '{code}'. {detail}".TrimEnd());
        }
        // Codes this enum does not know are UNKNOWN (statuscodes.md).
        return Enum.IsDefined((StatusCode)value) ? new Status((StatusCode)value, detail) : new Status(StatusCode.Unknown, detail);
    }

    /// <summary>Custom metadata of a header block; protocol headers are left out, malformed entries skipped.</summary>
    public static Metadata ReadMetadata(HttpHeaders headers)
    {
        var metadata = new Metadata();
        foreach (KeyValuePair<string, HeaderStringValues> header in headers.NonValidated)
        {
            string key = header.Key.ToLowerInvariant();
            if (ProtocolHeaders.IsReserved(key)) continue;
            bool binary = Metadata.Entry.IsBinaryKey(key);
            foreach (string value in header.Value)
            {
                try
                {
                    if (!binary)
                    {
                        metadata.Add(key, value);
                        continue;
                    }
                    // Several binary values may arrive joined by commas in one header.
                    foreach (string part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                    {
                        metadata.Add(key, DecodeBase64(part));
                    }
                }
                catch (Exception ex) when (ex is ArgumentException or FormatException)
                {
                    // One bad header from a peer should not fail an otherwise good call.
                }
            }
        }
        return metadata;
    }

    /// <summary>Base64 with or without padding.</summary>
    public static byte[] DecodeBase64(string value)
    {
        int pad = (4 - value.Length % 4) % 4;
        return Convert.FromBase64String(pad == 0 ? value : value + new string('=', pad));
    }

    /// <summary>Maps a transport failure to the status the call ends with.</summary>
    public static Status StatusFromException(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is HttpProtocolException protocol) return new Status(MapHttp2Error(protocol.ErrorCode), Describe(ex));
            if (e is SocketException) return new Status(StatusCode.Unavailable, "Error connecting to the server. " + Describe(ex));
        }
        return ex switch
        {
            HttpRequestException => new Status(StatusCode.Unavailable, "Error starting gRPC call. " + Describe(ex)),
            IOException => new Status(StatusCode.Unavailable, "Error reading the response. " + Describe(ex)),
            OperationCanceledException or ObjectDisposedException => new Status(StatusCode.Cancelled, Describe(ex)),
            _ => new Status(StatusCode.Internal, Describe(ex)),
        };
    }

    /// <summary>RST_STREAM / GOAWAY error code -> gRPC code (PROTOCOL-HTTP2.md "Errors").</summary>
    public static StatusCode MapHttp2Error(long errorCode) => errorCode switch
    {
        0x7 => StatusCode.Unavailable,        // REFUSED_STREAM: safe to retry
        0x8 => StatusCode.Cancelled,          // CANCEL
        0xb => StatusCode.ResourceExhausted,  // ENHANCE_YOUR_CALM
        0xc => StatusCode.PermissionDenied,   // INADEQUATE_SECURITY
        _ => StatusCode.Internal,
    };

    private static string Describe(Exception ex)
    {
        string text = $"{ex.GetType().Name}: {ex.Message}";
        if (ex.InnerException is { } inner && !ex.Message.Contains(inner.Message, StringComparison.Ordinal))
        {
            text += $" ({inner.GetType().Name}: {inner.Message})";
        }
        return text;
    }

    private static string? GetHeader(HttpHeaders headers, string name)
    {
        if (!headers.NonValidated.TryGetValues(name, out HeaderStringValues values)) return null;
        foreach (string v in values) return v;
        return null;
    }
}
