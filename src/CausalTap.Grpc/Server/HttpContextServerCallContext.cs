using CausalTap.Grpc.Internal;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Server;

/// <summary>
/// The <see cref="ServerCallContext"/> of one call on Kestrel. Owns the call's token, its deadline and every
/// write to the response, so that messages, headers and the final status never interleave.
/// </summary>
internal sealed class HttpContextServerCallContext : ServerCallContext, IAsyncDisposable
{
    /// <summary>RST_STREAM error code CANCEL (RFC 9113 §7), used when a call cannot be ended cleanly.</summary>
    private const int Http2CancelErrorCode = 0x8;

    /// <summary>The status sent when the deadline passes.</summary>
    private static readonly Status DeadlineStatus = new(StatusCode.DeadlineExceeded, "Deadline Exceeded");

    /// <summary>The request being served; only touched while the request delegate is still running.</summary>
    private readonly HttpContext _httpContext;
    /// <summary>Limits and clock for this call.</summary>
    private readonly GrpcServerOptions _options;
    /// <summary>The server's logger.</summary>
    private readonly ILogger _logger;
    /// <summary>Cancelled by client abort or deadline; its token is the handler's token.</summary>
    private readonly CancellationTokenSource _callCts = new();
    /// <summary>Serialises headers, messages and the final status. Taken by every response write.</summary>
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    /// <summary>Links RequestAborted to <see cref="_callCts"/>.</summary>
    private CancellationTokenRegistration _abortRegistration;
    /// <summary>The grpc-timeout timer, when the client sent one.</summary>
    private ServerCallDeadline? _deadline;
    /// <summary>1 once the final status was written or the stream reset; nothing may be written after.</summary>
    private int _completed;
    /// <summary>1 once the request delegate is done with the HttpContext (Kestrel may reuse it).</summary>
    private int _disposed;
    private Metadata? _requestHeaders;
    private Metadata? _responseTrailers;

    public HttpContextServerCallContext(HttpContext httpContext, string method, GrpcServerOptions options, ILogger logger)
    {
        _httpContext = httpContext;
        Method = method;
        _options = options;
        _logger = logger;
    }

    public override string Method { get; }
    public override string Peer => GrpcProtocolHelpers.GetPeer(_httpContext);
    public override Metadata RequestHeaders => _requestHeaders ??= GrpcProtocolHelpers.CreateRequestMetadata(_httpContext.Request, _logger, Method);
    public override DateTime Deadline => _deadline?.Deadline ?? DateTime.MaxValue;
    public override CancellationToken CancellationToken => _callCts.Token;
    public override Metadata ResponseTrailers => _responseTrailers ??= new Metadata();
    public override Status Status { get; set; } = Status.DefaultSuccess;

    public GrpcServerOptions Options => _options;
    public bool IsCompleted => Volatile.Read(ref _completed) != 0;
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;
    public bool DeadlineExceeded => _deadline?.IsExceeded ?? false;

    /// <summary>Hooks up client cancellation and starts the deadline timer (before the handler runs).</summary>
    public void Initialize()
    {
        _abortRegistration = _httpContext.RequestAborted.Register(static s => ((HttpContextServerCallContext)s!).CancelCall(), this);

        string? timeoutHeader = _httpContext.Request.Headers[ProtocolHeaders.TimeoutHeader];
        if (string.IsNullOrEmpty(timeoutHeader)) return;
        if (!ProtocolHeaders.TryDecodeTimeout(timeoutHeader, out TimeSpan timeout))
        {
            // grpc-dotnet and grpc-go ignore a malformed timeout rather than failing the call; so do we.
            GrpcServerLog.InvalidTimeoutIgnored(_logger, Method, timeoutHeader);
            return;
        }
        if (_options.MaxTimeout is { } max && timeout > max) timeout = max;
        _deadline = new ServerCallDeadline(this, _options.TimeProvider, timeout);
        _deadline.Start();
    }

    internal void CancelCall()
    {
        try { _callCts.Cancel(); }
        catch (AggregateException) { /* a handler's own registration threw; the call is cancelled regardless */ }
    }

    public override async Task WriteResponseHeadersAsync(Metadata responseHeaders)
    {
        ArgumentNullException.ThrowIfNull(responseHeaders);
        await _writeLock.WaitAsync(CancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCompleted("Response headers can't be written after the call is complete.");
            HttpResponse response = _httpContext.Response;
            if (response.HasStarted) throw new InvalidOperationException("Response headers can only be sent once per call.");
            PrepareResponseHeaders(responseHeaders);
            await response.StartAsync(CancellationToken).ConfigureAwait(false);
            await response.BodyWriter.FlushAsync(CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Reads the next request message, or null at the end of the request stream.</summary>
    public ValueTask<T?> ReadMessageAsync<T>(MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        if (IsDisposed) throw new InvalidOperationException("Can't read messages after the call is complete.");
        return MessageFraming.ReadMessageAsync(_httpContext.Request.BodyReader, parser, _options.MaxReceiveMessageSize, cancellationToken);
    }

    /// <summary>Reads the single request message of a unary or server-streaming call.</summary>
    public async Task<T> ReadSingleMessageAsync<T>(MessageParser<T> parser)
        where T : class, IMessage<T>
    {
        T? request = await ReadMessageAsync(parser, CancellationToken).ConfigureAwait(false)
            ?? throw new RpcException(StatusCode.Internal, "Request stream ended with no request message.");
        // Exactly one message: anything after it (even a partial frame) is a protocol error.
        if (await ReadMessageAsync(parser, CancellationToken).ConfigureAwait(false) is not null)
            throw new RpcException(StatusCode.Internal, "Additional data after the request message.");
        return request;
    }

    /// <summary>Frames and flushes one response message, sending the headers first if needed.</summary>
    public async Task WriteMessageAsync(IMessage message, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCompleted("Can't write the message because the call is complete.");
            HttpResponse response = _httpContext.Response;
            if (!response.HasStarted) PrepareResponseHeaders(null);
            MessageFraming.WriteMessage(response.BodyWriter, message, _options.MaxSendMessageSize);
            // One flush per message: streaming clients must see each message when it is written.
            await response.BodyWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void ThrowIfCompleted(string message)
    {
        if (IsCompleted || IsDisposed) throw new InvalidOperationException(message);
    }

    private void PrepareResponseHeaders(Metadata? custom)
    {
        HttpResponse response = _httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ProtocolHeaders.ContentType;
        if (custom is null) return;
        foreach (Metadata.Entry entry in custom) response.Headers.Append(entry.Key, GrpcProtocolHelpers.EncodeValue(entry));
    }

    /// <summary>Ends a call whose handler returned normally, with <see cref="Status"/>.</summary>
    public Task EndCallAsync() => TryCompleteAsync(Status, waitForLock: null);

    /// <summary>Turns a handler failure into the call's final status (or nothing, when the client left).</summary>
    public async Task ProcessHandlerErrorAsync(Exception exception)
    {
        try
        {
            if (IsCompleted) return; // the deadline already sent its status; the handler's late error is moot
            if (DeadlineExceeded)
            {
                await TryCompleteAsync(DeadlineStatus, waitForLock: null).ConfigureAwait(false);
                return;
            }
            if (_httpContext.RequestAborted.IsCancellationRequested)
            {
                // The stream is already reset by the client: there is no one to send a status to.
                GrpcServerLog.CallCancelledByClient(_logger, Method);
                Interlocked.Exchange(ref _completed, 1);
                return;
            }
            Status status;
            if (exception is RpcException rpc)
            {
                status = rpc.Status;
                foreach (Metadata.Entry entry in rpc.Trailers) ResponseTrailers.Add(entry);
            }
            else
            {
                GrpcServerLog.HandlerThrew(_logger, Method, exception);
                string detail = "Exception was thrown by handler.";
                if (_options.EnableDetailedErrors) detail += $" {exception.GetType().Name}: {exception.Message}";
                status = new Status(StatusCode.Unknown, detail);
            }
            GrpcServerLog.CallFailed(_logger, Method, status.StatusCode, status.Detail);
            await TryCompleteAsync(status, waitForLock: null).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Writing the status failed (connection gone); make sure the client does not wait forever.
            GrpcServerLog.HandlerThrew(_logger, Method, ex);
            ResetStream();
        }
    }

    /// <summary>Timer path: cancel the handler, then send DEADLINE_EXCEEDED even if the handler ignores its token.</summary>
    internal async Task OnDeadlineExceededAsync(TimeSpan timeout)
    {
        if (IsCompleted || IsDisposed) return;
        GrpcServerLog.DeadlineExceeded(_logger, Method, timeout);
        // Cancel first: a write stuck on flow control holds the write lock and only the token frees it.
        CancelCall();
        try
        {
            if (!await TryCompleteAsync(DeadlineStatus, waitForLock: TimeSpan.FromSeconds(5)).ConfigureAwait(false) && !IsCompleted)
            {
                GrpcServerLog.DeadlineStreamReset(_logger, Method, null);
                ResetStream();
            }
        }
        catch (Exception ex)
        {
            GrpcServerLog.DeadlineStreamReset(_logger, Method, ex);
            ResetStream();
        }
    }

    /// <summary>Writes <paramref name="status"/> plus trailers and ends the response, once per call.</summary>
    private async Task<bool> TryCompleteAsync(Status status, TimeSpan? waitForLock)
    {
        if (waitForLock is { } wait)
        {
            if (!await _writeLock.WaitAsync(wait).ConfigureAwait(false)) return false;
        }
        else
        {
            await _writeLock.WaitAsync().ConfigureAwait(false);
        }
        try
        {
            if (IsDisposed || Interlocked.Exchange(ref _completed, 1) != 0) return false;
            Status = status;
            HttpResponse response = _httpContext.Response;
            GrpcProtocolHelpers.WriteStatus(response, status, _responseTrailers);
            // Complete now rather than when the request delegate returns: on a deadline the handler may
            // still be running, and the client must get its status anyway.
            await response.CompleteAsync().ConfigureAwait(false);
            return true;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Last resort: RST_STREAM(CANCEL), so the client is not left waiting for trailers.</summary>
    private void ResetStream()
    {
        Interlocked.Exchange(ref _completed, 1);
        if (IsDisposed) return;
        _httpContext.Features.Get<IHttpResetFeature>()?.Reset(Http2CancelErrorCode);
    }

    public async ValueTask DisposeAsync()
    {
        if (_deadline is not null) await _deadline.DisposeAsync().ConfigureAwait(false);
        Volatile.Write(ref _disposed, 1);
        _abortRegistration.Dispose();
        // _callCts is deliberately not disposed: a handler may still hold its token (e.g. after a deadline).
    }
}
