using System.Buffers.Text;
using System.Security.Cryptography;
using Grpc.Core;
using CausalTap.Protocol.V1;
using Microsoft.Extensions.Logging;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Server;

/// <summary>What a new recording needs to know (the episode's metadata record and its path).</summary>
internal sealed record RecordingRequest(string Path, string SessionId, string CameraId, string Model, TrackingMethod Method,
    int FrameWidth, int FrameHeight);

/// <summary>
/// Owns the open sessions: open (limits, engine, recording), look-up, list, close, the idle sweep and shutdown.
/// Recently closed sessions stay visible to <see cref="GetInfo"/> (last <see cref="ClosedHistory"/>) so a client can
/// read why its session ended.
/// </summary>
internal sealed class SessionManager : IAsyncDisposable
{
    public const int ClosedHistory = 64;
    /// <summary>Largest ingest queue a client may ask for.</summary>
    public const int MaxIngestQueueFrames = 1024;

    private readonly TrackerServerOptions _options;
    private readonly ITrackingEngineFactory _engines;
    private readonly Func<RecordingRequest, ISessionRecorder>? _recorders;
    private readonly ILogger _logger;
    /// <summary>Guards <see cref="_open"/>, <see cref="_closed"/>, <see cref="_opening"/> and <see cref="_accepting"/>.</summary>
    private readonly object _lock = new();
    private readonly Dictionary<string, TrackingSession> _open = new(StringComparer.Ordinal);
    private readonly LinkedList<TrackingSession> _closed = new();
    /// <summary>Sessions between the limit check and their registration (engine loading happens outside the lock).</summary>
    private int _opening;
    private bool _accepting = true;
    private readonly ITimer? _idleTimer;

    public SessionManager(TrackerServerOptions options, ITrackingEngineFactory engines, Func<RecordingRequest, ISessionRecorder>? recorders,
        ILoggerFactory loggerFactory)
    {
        _options = options;
        _engines = engines;
        _recorders = recorders;
        _logger = loggerFactory.CreateLogger(ServerLog.Category);
        if (options.SessionIdleTimeout > TimeSpan.Zero)
        {
            TimeSpan period = options.IdleCheckInterval > TimeSpan.Zero ? options.IdleCheckInterval : TimeSpan.FromSeconds(1);
            _idleTimer = options.TimeProvider.CreateTimer(_ => SweepIdle(), null, period, period);
        }
    }

    /// <summary>Open sessions now.</summary>
    public int Count
    {
        get { lock (_lock) return _open.Count; }
    }

    /// <summary>Opens a session; throws <see cref="RejectionException"/> with the status the contract gives.</summary>
    public TrackingSession Open(OpenSessionRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.CameraId)) throw new RejectionException(RejectionKind.InvalidArgument, "camera_id is required (free text naming the camera)");
        if ((request.FrameWidth == 0) != (request.FrameHeight == 0))
            throw new RejectionException(RejectionKind.InvalidArgument, $"frame_width and frame_height go together (got {request.FrameWidth}x{request.FrameHeight}); 0x0 = taken from the first frame");
        if (request.FrameWidth > _options.MaxFrameWidth || request.FrameHeight > _options.MaxFrameHeight)
            throw new RejectionException(RejectionKind.InvalidArgument, $"frame size {request.FrameWidth}x{request.FrameHeight} is larger than this server's limit {_options.MaxFrameWidth}x{_options.MaxFrameHeight}");
        if (request.IngestQueueFrames > MaxIngestQueueFrames)
            throw new RejectionException(RejectionKind.InvalidArgument, $"ingest_queue_frames {request.IngestQueueFrames} is over the limit of {MaxIngestQueueFrames}");
        TrackingMethod? method = request.Method switch
        {
            Protocol.V1.TrackingMethod.Unspecified => null,
            Protocol.V1.TrackingMethod.Fused => TrackingMethod.Fused,
            Protocol.V1.TrackingMethod.Tapir => TrackingMethod.Tapir,
            Protocol.V1.TrackingMethod.Gmrw => TrackingMethod.Gmrw,
            Protocol.V1.TrackingMethod.TapirLk => TrackingMethod.TapirLk,
            _ => throw new RejectionException(RejectionKind.InvalidArgument, $"unknown tracking method {(int)request.Method}"),
        };
        IngestPolicy policy = request.IngestPolicy switch
        {
            IngestPolicy.Unspecified => _options.IngestPolicy,
            IngestPolicy.DropOldest or IngestPolicy.Block => request.IngestPolicy,
            _ => throw new RejectionException(RejectionKind.InvalidArgument, $"unknown ingest policy {(int)request.IngestPolicy}"),
        };
        string? episodePath = request.Record ? EpisodePath(request) : null;

        lock (_lock)
        {
            if (!_accepting) throw new RejectionException(RejectionKind.Unavailable, "the server is shutting down");
            if (_open.Count + _opening >= _options.MaxSessions)
                throw new RejectionException(RejectionKind.ResourceExhausted, $"the server already has {_options.MaxSessions} open sessions (max_sessions); close one first");
            _opening++;
        }
        EngineLease? lease = null;
        ISessionRecorder? recorder = null;
        TrackingSession? session = null;
        bool counted = true; // still counted in _opening
        try
        {
            string id = NewSessionId();
            lease = _engines.Create(request.Model, request.Provider, method);
            if (episodePath is not null)
            {
                if (_recorders is null) throw new RejectionException(RejectionKind.Unimplemented, "this server cannot record episodes");
                try
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(episodePath)!);
                    recorder = _recorders(new RecordingRequest(episodePath, id, request.CameraId, lease.Model, lease.Method,
                        (int)request.FrameWidth, (int)request.FrameHeight));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new RejectionException(RejectionKind.FailedPrecondition, $"cannot create the episode file '{episodePath}': {ex.Message}");
                }
            }
            var settings = new SessionSettings(id, request.CameraId, (int)request.FrameWidth, (int)request.FrameHeight, policy,
                request.IngestQueueFrames == 0 ? _options.IngestQueueFrames : (int)request.IngestQueueFrames,
                _options.MaxPointsPerSession, _options.MaxFrameWidth, _options.MaxFrameHeight, _options.MaxCaptureAhead, _options.ClockStep);
            session = new TrackingSession(settings, lease, recorder, _options.TimeProvider, _logger);
            lock (_lock)
            {
                _opening--;
                counted = false;
                if (!_accepting) throw new RejectionException(RejectionKind.Unavailable, "the server is shutting down");
                _open.Add(id, session);
            }
            ServerLog.SessionOpened(_logger, id, request.CameraId, lease.Model, lease.Method.ToString().ToLowerInvariant(), lease.Provider,
                policy == IngestPolicy.Block ? "block" : "drop_oldest", settings.IngestQueueFrames,
                recorder is null ? "" : $", recording to {recorder.Path}");
            return session;
        }
        catch
        {
            if (counted)
            {
                lock (_lock) _opening--;
            }
            if (session is not null)
            {
                _ = session.CloseAsync(CloseReasons.OpenFailed, drain: false); // releases the engine and the recorder
            }
            else
            {
                recorder?.Dispose();
                lease?.Engine.Dispose();
            }
            throw;
        }
    }

    /// <summary>An open session or NOT_FOUND (saying so when it is one that closed recently).</summary>
    public TrackingSession Get(string sessionId)
    {
        if (string.IsNullOrEmpty(sessionId)) throw new RejectionException(RejectionKind.InvalidArgument, "session_id is required");
        lock (_lock)
        {
            if (_open.TryGetValue(sessionId, out TrackingSession? session) && !session.IsClosed) return session;
            TrackingSession? closed = _closed.FirstOrDefault(s => s.Id == sessionId) ?? session;
            if (closed is not null)
                throw new RejectionException(RejectionKind.NotFound, $"session {sessionId} is closed ({closed.ToInfo().CloseReason})");
        }
        throw new RejectionException(RejectionKind.NotFound, $"unknown session '{sessionId}'");
    }

    /// <summary>Info of an open or recently closed session, else NOT_FOUND.</summary>
    public SessionInfo GetInfo(string sessionId)
    {
        if (string.IsNullOrEmpty(sessionId)) throw new RejectionException(RejectionKind.InvalidArgument, "session_id is required");
        lock (_lock)
        {
            if (_open.TryGetValue(sessionId, out TrackingSession? session)) return session.ToInfo();
            TrackingSession? closed = _closed.FirstOrDefault(s => s.Id == sessionId);
            if (closed is not null) return closed.ToInfo();
        }
        throw new RejectionException(RejectionKind.NotFound, $"unknown session '{sessionId}'");
    }

    /// <summary>The open sessions, oldest first.</summary>
    public IReadOnlyList<TrackingSession> List()
    {
        lock (_lock) return _open.Values.OrderBy(s => s.OpenedNs).ToList();
    }

    /// <summary>Closes an open session (draining its queue) and returns its final info; NOT_FOUND when not open.</summary>
    public async Task<SessionInfo> CloseAsync(string sessionId, string reason)
    {
        TrackingSession session;
        lock (_lock)
        {
            if (!_open.Remove(sessionId, out session!))
            {
                TrackingSession? closed = _closed.FirstOrDefault(s => s.Id == sessionId);
                if (closed is not null) return closed.ToInfo();
                throw new RejectionException(RejectionKind.NotFound, $"unknown session '{sessionId}'");
            }
            _closed.AddFirst(session);
            while (_closed.Count > ClosedHistory) _closed.RemoveLast();
        }
        await session.CloseAsync(reason).ConfigureAwait(false);
        return session.ToInfo();
    }

    /// <summary>Closes every session idle for longer than the configured timeout (called by the timer; tests call it directly).</summary>
    public void SweepIdle()
    {
        if (_options.SessionIdleTimeout <= TimeSpan.Zero) return;
        foreach (TrackingSession session in List())
        {
            if (session.IsIdle(_options.SessionIdleTimeout)) _ = CloseQuietlyAsync(session.Id, CloseReasons.IdleTimeout);
        }
    }

    private async Task CloseQuietlyAsync(string id, string reason)
    {
        try
        {
            await CloseAsync(id, reason).ConfigureAwait(false);
        }
        catch (RejectionException)
        {
            // closed meanwhile by someone else
        }
    }

    /// <summary>
    /// Stops opening sessions and closes all of them, draining queued frames; after <paramref name="timeout"/> the
    /// frames still queued are dropped so shutdown always ends.
    /// </summary>
    public async Task ShutdownAsync(TimeSpan timeout)
    {
        List<string> ids;
        lock (_lock)
        {
            _accepting = false;
            ids = _open.Keys.ToList();
        }
        _idleTimer?.Dispose();
        List<TrackingSession> sessions = ids.Select(id => { lock (_lock) return _open.GetValueOrDefault(id); }).OfType<TrackingSession>().ToList();
        Task all = Task.WhenAll(ids.Select(id => CloseQuietlyAsync(id, CloseReasons.Shutdown)));
        Task finished = await Task.WhenAny(all, Task.Delay(timeout, _options.TimeProvider)).ConfigureAwait(false);
        if (finished != all)
        {
            foreach (TrackingSession s in sessions) s.AbortDrain();
            await all.ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ShutdownAsync(_options.ShutdownTimeout).ConfigureAwait(false);
    }

    /// <summary>Where a recording goes: a plain file name under the episode directory (never a path), ".mcap" added.</summary>
    private string EpisodePath(OpenSessionRequest request)
    {
        string name = request.EpisodeName;
        if (string.IsNullOrEmpty(name))
        {
            string camera = new string(request.CameraId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());
            name = $"{camera}-{_options.TimeProvider.GetUtcNow():yyyyMMdd-HHmmss}-{NewSessionId()[..6]}";
        }
        else
        {
            EpisodeFiles.CheckName(name, "episode_name");
        }
        if (!name.EndsWith(".mcap", StringComparison.OrdinalIgnoreCase)) name += ".mcap";
        string path = Path.Combine(Path.GetFullPath(_options.EpisodesDirectory), name);
        if (File.Exists(path)) throw new RejectionException(RejectionKind.AlreadyExists, $"episode '{name}' already exists in the episode directory");
        return path;
    }

    /// <summary>11 url-safe characters from 64 random bits.</summary>
    internal static string NewSessionId()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }
}
