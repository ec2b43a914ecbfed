using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Threading.Channels;
using CausalTap.Grpc.Internal;
using CausalTap.Grpc.Server;
using Google.Protobuf;

namespace CausalTap.Grpc.Tests;

/// <summary>
/// A real Kestrel server plus a raw HTTP/2 HttpClient: server tests speak the wire protocol directly so they
/// do not depend on our own gRPC client.
/// </summary>
internal sealed class ServerTestHarness : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private ServerTestHarness(GrpcServerHost host, HttpClient client)
    {
        Host = host;
        Client = client;
    }

    public GrpcServerHost Host { get; }
    public HttpClient Client { get; }

    public static async Task<ServerTestHarness> StartAsync(Action<GrpcServiceRegistry> register, GrpcServerOptions? options = null,
        Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        var registry = new GrpcServiceRegistry();
        register(registry);
        GrpcServerHost host = await GrpcServerHost.StartAsync(registry, options, loggerFactory: loggerFactory);
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        var client = new HttpClient(handler)
        {
            BaseAddress = new Uri(host.Address),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, // h2c with prior knowledge
            Timeout = Timeout,
        };
        return new ServerTestHarness(host, client);
    }

    /// <summary>A gRPC POST with the given body; headers are added by the caller.</summary>
    public static HttpRequestMessage CreateRequest(string path, HttpContent content, string contentType = ProtocolHeaders.ContentType)
    {
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        // DefaultRequestVersion only applies to HttpClient's helpers, not to a hand-made request.
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = content,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        return request;
    }

    public static HttpRequestMessage CreateRequest(string path, params IMessage[] messages) =>
        CreateRequest(path, new ByteArrayContent(Frame(messages)));

    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken = default) =>
        Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);

    /// <summary>Length-prefixed, uncompressed frames of <paramref name="messages"/>.</summary>
    public static byte[] Frame(params IMessage[] messages)
    {
        var stream = new MemoryStream();
        Span<byte> header = stackalloc byte[5];
        foreach (IMessage message in messages)
        {
            byte[] payload = message.ToByteArray();
            BinaryPrimitives.WriteUInt32BigEndian(header.Slice(1), (uint)payload.Length);
            stream.Write(header);
            stream.Write(payload);
        }
        return stream.ToArray();
    }

    /// <summary>Reads the next response message, or null at a clean end of the body.</summary>
    public static async Task<T?> ReadMessageAsync<T>(Stream body, MessageParser<T> parser) where T : IMessage<T>
    {
        byte[] header = new byte[5];
        int read = await body.ReadAtLeastAsync(header, 5, throwOnEndOfStream: false).AsTask().WaitAsync(Timeout);
        if (read == 0) return default;
        Assert.Equal(5, read);
        Assert.Equal(0, header[0]);
        byte[] payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1))];
        await body.ReadExactlyAsync(payload).AsTask().WaitAsync(Timeout);
        return parser.ParseFrom(payload);
    }

    /// <summary>Reads the whole body, then the status from trailers (or from headers for trailers-only).</summary>
    public static async Task<GrpcResult<T>> ReadToEndAsync<T>(HttpResponseMessage response, MessageParser<T> parser) where T : IMessage<T>
    {
        Stream body = await response.Content.ReadAsStreamAsync();
        var messages = new List<T>();
        while (await ReadMessageAsync(body, parser) is { } message) messages.Add(message);
        return new GrpcResult<T>(response, messages);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
    }
}

/// <summary>What a raw call returned: HTTP response, messages and where the status was found.</summary>
internal sealed record GrpcResult<T>(HttpResponseMessage Response, List<T> Messages)
{
    /// <summary>True when the status came in the response headers (trailers-only response).</summary>
    public bool TrailersOnly => Header(Response.Headers, ProtocolHeaders.StatusTrailer) is not null;

    public StatusCode? StatusCode
    {
        get
        {
            string? value = Header(Response.TrailingHeaders, ProtocolHeaders.StatusTrailer) ?? Header(Response.Headers, ProtocolHeaders.StatusTrailer);
            return value is null ? null : (StatusCode)int.Parse(value);
        }
    }

    /// <summary>The raw (still percent-encoded) grpc-message.</summary>
    public string? RawMessage => Header(Response.TrailingHeaders, ProtocolHeaders.MessageTrailer) ?? Header(Response.Headers, ProtocolHeaders.MessageTrailer);

    public string? Detail => RawMessage is null ? null : ProtocolHeaders.PercentDecode(RawMessage);

    public string? Trailer(string name) => Header(Response.TrailingHeaders, name);

    public static string? Header(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out IEnumerable<string>? values) ? values.First() : null;
}

/// <summary>A request body the test writes message by message (for client-streaming and duplex calls).</summary>
internal sealed class StreamingRequestContent : HttpContent
{
    private readonly Channel<byte[]> _chunks = Channel.CreateUnbounded<byte[]>();

    public void Write(IMessage message) => _chunks.Writer.TryWrite(ServerTestHarness.Frame(message));

    public void WriteRaw(byte[] bytes) => _chunks.Writer.TryWrite(bytes);

    /// <summary>Half-closes the request stream (END_STREAM).</summary>
    public void Complete() => _chunks.Writer.TryComplete();

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        await foreach (byte[] chunk in _chunks.Reader.ReadAllAsync())
        {
            await stream.WriteAsync(chunk);
            await stream.FlushAsync(); // one DATA frame per message, sent now
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}

/// <summary>
/// A clock that moves only when <see cref="Advance"/> is called; due timers fire inside Advance.
/// (Microsoft.Extensions.TimeProvider.Testing is not available here.)
/// </summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private readonly object _lock = new();
    private readonly List<ManualTimer> _timers = new();
    private DateTimeOffset _now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock) return _now;
    }

    /// <summary>Timers created and not yet disposed.</summary>
    public int TimerCount
    {
        get { lock (_lock) return _timers.Count; }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        lock (_lock) _timers.Add(timer);
        timer.Change(dueTime, period);
        return timer;
    }

    public void Advance(TimeSpan delta)
    {
        var due = new List<ManualTimer>();
        lock (_lock)
        {
            _now += delta;
            foreach (ManualTimer timer in _timers)
            {
                if (timer.DueAt is { } at && at <= _now)
                {
                    due.Add(timer);
                    timer.DueAt = timer.Period == Timeout.InfiniteTimeSpan ? null : _now + timer.Period;
                }
            }
        }
        foreach (ManualTimer timer in due) timer.Fire();
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? DueAt { get; set; }
        public TimeSpan Period { get; private set; } = Timeout.InfiniteTimeSpan;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._lock)
            {
                Period = period;
                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner._now + dueTime;
            }
            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner._lock) owner._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>Records every log entry, so tests can check EventIds without a logging package.</summary>
internal sealed class CapturingLoggerProvider : Microsoft.Extensions.Logging.ILoggerProvider
{
    public System.Collections.Concurrent.ConcurrentQueue<(string Category, int EventId, string Message)> Entries { get; } = new();

    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId,
            TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue((category, eventId.Id, formatter(state, exception)));
    }
}
