using System.IO.Pipelines;
using System.Net;

namespace CausalTap.Grpc.Client;

/// <summary>What every public call type delegates to; also lets the channel cancel calls it does not know the types of.</summary>
internal interface IGrpcCall : IDisposable
{
    Task<Metadata> ResponseHeadersAsync { get; }

    Status GetStatus();

    Metadata GetTrailers();

    void Cancel(Status status);
}

/// <summary>
/// One client call: sends the HTTP/2 request, owns its cancellation (caller token, deadline timer, Dispose),
/// and records the final status exactly once. The first outcome wins: trailers from the server, a local
/// cancel/deadline, a size limit or a transport failure. Reading lives in GrpcCall.Reading.cs.
/// </summary>
internal sealed partial class GrpcCall<TRequest, TResponse> : IGrpcCall, IStreamWriterOwner
    where TRequest : class, Google.Protobuf.IMessage<TRequest>, new()
    where TResponse : class, Google.Protobuf.IMessage<TResponse>, new()
{
    private static readonly Status DeadlineStatus = new(StatusCode.DeadlineExceeded, "Deadline Exceeded");
    private static readonly Status ClientCancelledStatus = new(StatusCode.Cancelled, "Call canceled by the client.");
    private static readonly Status DisposedStatus = new(StatusCode.Cancelled, "Call disposed by the client.");

    private readonly GrpcChannel _channel;
    private readonly Method<TRequest, TResponse> _method;
    private readonly CallOptions _options;
    /// <summary>Cancelled when the call ends early; aborts SendAsync and reads, which resets the HTTP/2 stream.</summary>
    private readonly CancellationTokenSource _callCts = new();
    private readonly TaskCompletionSource<Metadata> _headersTcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Completes when the final status is known.</summary>
    private readonly TaskCompletionSource _finishedTcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Guards the final status, trailers and <see cref="_response"/>.</summary>
    private readonly object _lock = new();
    private CancellationTokenRegistration _callerCancellation;
    private Timer? _deadlineTimer;
    private Task<HttpResponseMessage?> _sendTask = Task.FromResult<HttpResponseMessage?>(null);
    private HttpResponseMessage? _response;
    private Status? _status;
    private Metadata? _trailers;

    public GrpcCall(GrpcChannel channel, Method<TRequest, TResponse> method, CallOptions options)
    {
        _channel = channel;
        _method = method;
        _options = options;
    }

    /// <summary>Set for client-streaming and duplex calls.</summary>
    public ClientStreamWriter<TRequest>? RequestWriter { get; private set; }

    public Task<Metadata> ResponseHeadersAsync => _headersTcs.Task;

    public bool IsFinished => Volatile.Read(ref _trailers) is not null;

    public CancellationToken CallToken => _callCts.Token;

    public int MaxSendMessageSize => _channel.MaxSendMessageSize;

    /// <summary>Completes when the final status is known (never faults).</summary>
    public Task Finished => _finishedTcs.Task;

    public void StartUnary(TRequest request)
    {
        // Fail an oversized request before anything reaches the wire.
        int size = request.CalculateSize();
        if (size > _channel.MaxSendMessageSize)
        {
            TryFinish(new Status(StatusCode.ResourceExhausted,
                $"Sending message exceeds the maximum configured message size ({size} > {_channel.MaxSendMessageSize} bytes)."), new Metadata());
            return;
        }
        Start(GrpcRequestContent.ForMessage(request, _channel.MaxSendMessageSize));
    }

    public void StartStreaming()
    {
        RequestWriter = new ClientStreamWriter<TRequest>(this);
        Start(new GrpcRequestContent(RequestWriter.WriteBodyAsync));
    }

    private void Start(HttpContent content)
    {
        TimeSpan? timeout = null;
        if (_options.Deadline is { } deadline && deadline != DateTime.MaxValue)
        {
            DateTime utc = deadline.Kind == DateTimeKind.Local ? deadline.ToUniversalTime() : deadline;
            TimeSpan remaining = utc - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                // Already late: no point opening a stream the server would time out at once.
                content.Dispose();
                TryFinish(DeadlineStatus, new Metadata());
                return;
            }
            timeout = remaining;
            // The timer makes the call fail on time even when the server never answers.
            if (remaining.TotalMilliseconds < uint.MaxValue - 1)
            {
                _deadlineTimer = new Timer(static s => ((IGrpcCall)s!).Cancel(DeadlineStatus), this, remaining, Timeout.InfiniteTimeSpan);
            }
        }
        if (!_channel.TryRegister(this))
        {
            content.Dispose();
            TryFinish(new Status(StatusCode.Cancelled, "The channel has been disposed."), new Metadata());
            return;
        }

        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_channel.Address, _method.FullName))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact, // h2c prior knowledge on http://, ALPN h2 on https://
            Content = content,
        };
        GrpcClientProtocol.AddRequestHeaders(request, _options.Headers, timeout);
        _sendTask = SendAsync(request);
        if (_options.CancellationToken.CanBeCanceled)
        {
            _callerCancellation = _options.CancellationToken.Register(static s => ((IGrpcCall)s!).Cancel(ClientCancelledStatus), this);
        }
    }

    private async Task<HttpResponseMessage?> SendAsync(HttpRequestMessage request)
    {
        HttpResponseMessage? response;
        try
        {
            response = await _channel.HttpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _callCts.Token)
                .ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Cancel(GrpcClientProtocol.StatusFromException(ex));
            return null;
        }
        lock (_lock)
        {
            if (_trailers is null)
            {
                _response = response;
                response = null;
            }
        }
        if (response is not null)
        {
            // The call ended (cancel, deadline) while the headers were on their way.
            response.Dispose();
            return null;
        }

        Status? bad = GrpcClientProtocol.ValidateResponseHeaders(_response!);
        if (bad is { } status)
        {
            Cancel(status);
            return null;
        }
        _headersTcs.TrySetResult(GrpcClientProtocol.ReadMetadata(_response!.Headers));
        return _response;
    }

    /// <summary>Ends the call locally with <paramref name="status"/> (no-op once finished) and resets the stream.</summary>
    public void Cancel(Status status)
    {
        if (!TryFinish(status, new Metadata())) return;
        _callCts.Cancel();
    }

    /// <summary>Records the final status; false when the call had already finished.</summary>
    internal bool TryFinish(Status status, Metadata trailers)
    {
        HttpResponseMessage? response;
        lock (_lock)
        {
            if (_trailers is not null) return false;
            _status = status;
            _trailers = trailers;
            response = _response;
        }
        _deadlineTimer?.Dispose();
        _callerCancellation.Unregister();
        _channel.Unregister(this);
        if (status.StatusCode != StatusCode.OK)
        {
            _headersTcs.TrySetException(CreateException());
            _ = _headersTcs.Task.Exception; // most callers never look at the headers: don't report it as unobserved
        }
        else
        {
            _headersTcs.TrySetResult(new Metadata());
        }
        RequestWriter?.OnCallFinished(status);
        // Disposing a response whose body is unread sends RST_STREAM(CANCEL): the server sees the abort.
        response?.Dispose();
        _finishedTcs.TrySetResult();
        return true;
    }

    public RpcException CreateException()
    {
        lock (_lock)
        {
            return new RpcException(_status ?? throw new InvalidOperationException("The call is still running."), _trailers);
        }
    }

    public void ThrowIfFinishedForWrite()
    {
        lock (_lock)
        {
            if (_status is not { } s) return;
            if (s.StatusCode != StatusCode.OK) throw new RpcException(s, _trailers);
        }
        throw new InvalidOperationException("Can't write the message because the call is complete.");
    }

    public Status GetStatus()
    {
        lock (_lock)
        {
            return _status ?? throw new InvalidOperationException("Unable to get the status because the call is not complete.");
        }
    }

    public Metadata GetTrailers()
    {
        lock (_lock)
        {
            return _trailers ?? throw new InvalidOperationException("Unable to get the trailers because the call is not complete.");
        }
    }

    /// <summary>Cancels a running call; after a finished call it only releases the response.</summary>
    public void Dispose()
    {
        Cancel(DisposedStatus);
        HttpResponseMessage? response;
        lock (_lock) response = _response;
        response?.Dispose();
    }
}
