using CausalTap.Pipeline;
using System.Diagnostics;
using System.Threading.Channels;
using CausalTap.Imaging;
using CausalTap.Protocol.V1;
using CausalTap.Tracking;
using Microsoft.Extensions.Logging;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Server;

/// <summary>How a session was asked to run (resolved: no "unspecified" values).</summary>
internal sealed record SessionSettings(
    string Id, string CameraId, int FrameWidth, int FrameHeight, IngestPolicy Policy, int IngestQueueFrames,
    int MaxPoints, int MaxFrameWidth, int MaxFrameHeight, TimeSpan MaxCaptureAhead, TimeSpan ClockStep);

/// <summary>Per-call ingest counters (StreamFrames' IngestSummary); drops are counted from the engine side.</summary>
internal sealed class IngestCall
{
    public long Received;
    public long Queued;
    public long Dropped;
    public long Rejected;
    public FrameRejected? LastRejection;

    public IngestSummary ToSummary() => new()
    {
        FramesReceived = (ulong)Interlocked.Read(ref Received),
        FramesQueued = (ulong)Interlocked.Read(ref Queued),
        FramesDropped = (ulong)Interlocked.Read(ref Dropped),
        FramesRejected = (ulong)Interlocked.Read(ref Rejected),
        LastRejection = LastRejection,
    };
}

/// <summary>
/// One camera stream: its ingest queue, its engine loop (one task), its tracker, its subscribers and its recording.
/// <para>Threading: any number of calls ingest, add/remove points and subscribe concurrently.
/// <list type="bullet">
/// <item><c>_ingestGate</c> (async, one holder) orders ingest: size and capture-time checks and the enqueue happen
/// under it, so frames enter the queue in the order they passed the checks. With policy BLOCK the holder waits for
/// queue space while holding it, which back-pressures every camera call of the session.</item>
/// <item><c>_engineLock</c> serialises the tracker and the recorder: the loop holds it for one Track, point commands
/// for one Add/Remove, so a command waits at most one frame.</item>
/// <item>Publishing to subscribers never waits (each has its own latest-wins queue).</item>
/// </list></para>
/// </summary>
internal sealed class TrackingSession
{
    /// <summary>Frames waiting for the engine (or flush markers); single reader: the engine loop.</summary>
    private readonly Channel<IngestItem> _ingest;
    /// <summary>Orders ingest checks and enqueues (see the class comment).</summary>
    private readonly SemaphoreSlim _ingestGate = new(1, 1);
    /// <summary>Guards <see cref="_engine"/> and the order of <see cref="_recording"/>'s queue.</summary>
    private readonly object _engineLock = new();
    /// <summary>The session's tracker; null once the session has closed, so that a closed session that the manager keeps
    /// for its info (SessionManager.ClosedHistory) no longer holds the tracker's buffers (about 4 MB at 256 points).</summary>
    private IFrameTracker? _engine;
    /// <summary>The recording, written on its own task; null when the session does not record.</summary>
    private readonly RecordingQueue? _recording;
    /// <summary>Current subscribers; replaced (copy on write) under <see cref="_subscriberLock"/>, read lock-free.</summary>
    private Subscriber[] _subscribers = [];
    private readonly object _subscriberLock = new();
    /// <summary>Set (under the subscriber lock) once the session ended its subscriptions; late subscribers end at once.</summary>
    private bool _subscribersClosed;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    /// <summary>Set by a hard stop: queued frames are skipped (counted as dropped) instead of tracked.</summary>
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _loop;
    private readonly object _stateLock = new();
    private Task? _closeTask;
    private volatile bool _closing;
    private string _closeReason = "";
    private long _closedNs;

    /// <summary>Frame size; 0 until known (OpenSession or the first frame). Written under the ingest gate.</summary>
    private int _frameWidth, _frameHeight;
    /// <summary>Capture time (ns) of the last accepted frame that carried one; written under the ingest gate.</summary>
    private long _lastCaptureNs = long.MinValue;

    /// <summary>Notices for subscribers, attached to the next published update (guarded by itself).</summary>
    private readonly List<SessionNotice> _pendingNotices = new();
    private int _pointCount;

    /// <summary>Points added before the frame size was known, checked against the first processed frame (engine lock).</summary>
    private readonly List<(uint Id, float X, float Y)> _unchecked = new();

    /// <summary>Points found outside the image at that check: never tracked, reported invalid in every update (engine lock).</summary>
    private readonly SortedDictionary<uint, PointState> _invalid = new();
    private long _received, _processed, _dropped, _rejected;
    private readonly SessionStatsWindow _processingMs = new(), _latencyMs = new();
    private int _activeCalls;
    private long _lastActivityTimestamp;
    /// <summary>Rejection log rate limit: next timestamp at which a line may be written, and lines suppressed since.</summary>
    private long _nextRejectionLog;
    private int _suppressedRejections;

    public TrackingSession(SessionSettings settings, EngineLease engine, ISessionRecorder? recorder, TimeProvider time, ILogger logger)
    {
        Settings = settings;
        Model = engine.Model;
        Provider = engine.Provider;
        Method = engine.Method;
        _engine = engine.Engine;
        _recording = recorder is null ? null : new RecordingQueue(recorder, logger, settings.Id);
        _time = time;
        _logger = logger;
        _frameWidth = settings.FrameWidth;
        _frameHeight = settings.FrameHeight;
        EpisodePath = recorder?.Path ?? "";
        OpenedNs = NowNs();
        _lastActivityTimestamp = time.GetTimestamp();
        var options = new BoundedChannelOptions(settings.IngestQueueFrames)
        {
            FullMode = settings.Policy == IngestPolicy.Block ? BoundedChannelFullMode.Wait : BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        };
        _ingest = Channel.CreateBounded<IngestItem>(options, OnFrameDropped);
        _loop = Task.Run(RunEngineLoopAsync);
    }

    public SessionSettings Settings { get; }
    public string Id => Settings.Id;
    public string Model { get; }
    public string Provider { get; }
    public TrackingMethod Method { get; }
    public string EpisodePath { get; }
    public long OpenedNs { get; }
    public bool IsClosed => _closing;

    /// <summary>Completes when the session is fully closed (queue drained, subscribers ended, recording complete).</summary>
    public Task Closed => _closeTask ?? Task.CompletedTask;

    // ------------------------------------------------------------------ calls and idleness

    /// <summary>Marks a call (Subscribe, StreamFrames, Track) as using the session until disposed; a session with calls never idles out.</summary>
    public IDisposable BeginCall()
    {
        Interlocked.Increment(ref _activeCalls);
        Touch();
        return new CallScope(this);
    }

    private sealed class CallScope(TrackingSession session) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0) return;
            Interlocked.Decrement(ref session._activeCalls);
            session.Touch();
        }
    }

    private void Touch() => Interlocked.Exchange(ref _lastActivityTimestamp, _time.GetTimestamp());

    /// <summary>True when no call uses the session and nothing happened for <paramref name="timeout"/>.</summary>
    public bool IsIdle(TimeSpan timeout) =>
        Volatile.Read(ref _activeCalls) == 0 && _time.GetElapsedTime(Interlocked.Read(ref _lastActivityTimestamp)) >= timeout;

    // ------------------------------------------------------------------ ingest

    /// <summary>
    /// Checks a frame and queues it. Returns false when the policy dropped it at once (never with the current
    /// policies). Throws <see cref="RejectionException"/> for a bad frame (counted as rejected) and ABORTED when
    /// the session is closing.
    /// </summary>
    public async ValueTask<bool> SubmitAsync(Frame frame, IngestCall? call, CancellationToken cancellationToken)
    {
        long receiveNs = NowNs();
        Interlocked.Increment(ref _received);
        if (call is not null) Interlocked.Increment(ref call.Received);
        Touch();
        try
        {
            FrameShape shape = FrameInspector.Inspect(frame, Settings.MaxFrameWidth, Settings.MaxFrameHeight);
            await _ingestGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                ThrowIfClosing();
                if (_frameWidth != 0 && (shape.Width != _frameWidth || shape.Height != _frameHeight))
                {
                    throw new RejectionException(RejectionKind.InvalidArgument,
                        $"frame is {shape.Width}x{shape.Height} but session {Id} takes {_frameWidth}x{_frameHeight} frames");
                }
                SessionNotice? rebased = CheckCaptureTime(frame, receiveNs);
                var item = new IngestItem(frame, shape, receiveNs, call, null, rebased);
                bool queued;
                if (Settings.Policy == IngestPolicy.Block)
                {
                    await _ingest.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
                    queued = true;
                }
                else
                {
                    queued = _ingest.Writer.TryWrite(item);
                    if (!queued) ThrowClosed();
                }
                // Only an accepted frame fixes the size and the capture-time floor.
                if (_frameWidth == 0)
                {
                    Volatile.Write(ref _frameHeight, shape.Height);
                    Volatile.Write(ref _frameWidth, shape.Width);
                }
                if (frame.CaptureTimeNs != 0) _lastCaptureNs = frame.CaptureTimeNs;
                if (rebased is not null) ServerLog.ClockRebased(_logger, Id, frame.Sequence, rebased.ClockStepNs / 1e6);
                if (call is not null) Interlocked.Increment(ref call.Queued);
                return queued;
            }
            catch (ChannelClosedException)
            {
                throw ClosedException();
            }
            finally
            {
                _ingestGate.Release();
            }
        }
        catch (RejectionException ex)
        {
            CountRejection(frame, ex.Kind, ex.Message, call);
            throw;
        }
    }

    /// <summary>Waits until every frame queued before this call has been tracked, dropped or rejected.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var marker = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _ingestGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_closing) return;
            var item = new IngestItem(null, default, 0, null, marker);
            if (Settings.Policy == IngestPolicy.Block) await _ingest.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
            else if (!_ingest.Writer.TryWrite(item)) return;
        }
        catch (ChannelClosedException)
        {
            return;
        }
        finally
        {
            _ingestGate.Release();
        }
        await marker.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The channel's drop callback (policy DROP_OLDEST): count the frame, or release a flush marker.</summary>
    private void OnFrameDropped(IngestItem item)
    {
        if (item.Marker is { } marker)
        {
            marker.TrySetResult();
            return;
        }
        Interlocked.Increment(ref _dropped);
        if (item.Call is { } call) Interlocked.Increment(ref call.Dropped);
        if (item.Notice is { } notice) AddNotice(notice); // pushed out of the full queue: the notice still goes out
    }

    private void CountRejection(Frame? frame, RejectionKind kind, string message, IngestCall? call)
    {
        Interlocked.Increment(ref _rejected);
        var rejection = new FrameRejected
        {
            Sequence = frame?.Sequence ?? 0,
            CaptureTimeNs = frame?.CaptureTimeNs ?? 0,
            Code = (int)WireStatus.Of(kind),
            Message = message,
        };
        if (call is not null)
        {
            Interlocked.Increment(ref call.Rejected);
            call.LastRejection = rejection;
        }
        LogRejection(rejection, kind);
    }

    /// <summary>One log line per rejected frame, at most one per second per session (the rest are counted into the next line).</summary>
    private void LogRejection(FrameRejected rejection, RejectionKind kind)
    {
        long now = _time.GetTimestamp();
        long next = Interlocked.Read(ref _nextRejectionLog);
        if (now < next || Interlocked.CompareExchange(ref _nextRejectionLog, now + _time.TimestampFrequency, next) != next)
        {
            Interlocked.Increment(ref _suppressedRejections);
            return;
        }
        int suppressed = Interlocked.Exchange(ref _suppressedRejections, 0);
        ServerLog.FrameRejected(_logger, Id, rejection.Sequence, kind, rejection.Message, suppressed);
    }

    /// <summary>
    /// The clock rules (tracker.proto, Frame): 0 = receive time, never refused and not part of the capture clock; far
    /// ahead of the server clock = refused alone; a little older than the previous frame = a reordering, refused; much
    /// older = a clock step, accepted, and the returned CLOCK_REBASED notice tells subscribers.
    /// </summary>
    private SessionNotice? CheckCaptureTime(Frame frame, long receiveNs)
    {
        long capture = frame.CaptureTimeNs;
        if (capture == 0) return null;
        long aheadNs = capture - receiveNs;
        if (aheadNs > Settings.MaxCaptureAhead.Ticks * 100)
        {
            throw new RejectionException(RejectionKind.OutOfRange,
                $"frame captured at {capture} ns is {aheadNs / 1e9:F3} s ahead of the server clock (more than {Settings.MaxCaptureAhead.TotalSeconds:0.###} s): check the camera clock; the session's clock is unchanged");
        }
        if (_lastCaptureNs == long.MinValue || capture >= _lastCaptureNs) return null;
        long backNs = _lastCaptureNs - capture;
        if (backNs <= Settings.ClockStep.Ticks * 100)
        {
            throw new RejectionException(RejectionKind.OutOfRange,
                $"frame captured at {capture} ns is older than the previous frame ({_lastCaptureNs} ns): frames must arrive in capture order");
        }
        return new SessionNotice
        {
            Kind = SessionNotice.Types.Kind.ClockRebased, Sequence = frame.Sequence, CaptureTimeNs = capture, ClockStepNs = -backNs,
            Message = $"capture clock stepped back {backNs / 1e9:F3} s (more than {Settings.ClockStep.TotalSeconds:0.###} s): the session re-based on frame {frame.Sequence}",
        };
    }

    private void AddNotice(SessionNotice notice)
    {
        lock (_pendingNotices) _pendingNotices.Add(notice);
    }

    // ------------------------------------------------------------------ engine loop

    /// <summary>The session's one engine task: decode, record, track, publish, frame after frame, until the queue completes.</summary>
    private async Task RunEngineLoopAsync()
    {
        using var pipeline = new FramePipeline();
        await foreach (IngestItem item in _ingest.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (item.Marker is { } marker)
            {
                marker.TrySetResult();
                continue;
            }
            Frame frame = item.Frame!;
            if (item.Notice is { } notice) AddNotice(notice); // before this frame's update is built, after the previous one's
            if (_abort.IsCancellationRequested || IsStale(item))
            {
                OnFrameDropped(item with { Notice = null }); // its notice is pending already
                continue;
            }
            try
            {
                ProcessFrame(item, frame, pipeline);
            }
            catch (RejectionException ex)
            {
                CountRejection(frame, ex.Kind, ex.Message, null);
                PublishRejection(frame, ex.Kind, ex.Message);
            }
            catch (Exception ex)
            {
                // The engine failed on a frame it accepted (e.g. an ONNX Runtime error): skip the frame, keep the session.
                ServerLog.EngineFailed(_logger, Id, frame.Sequence, ex);
                string message = $"the tracker failed on this frame: {ex.Message}";
                CountRejection(frame, RejectionKind.Internal, message, null);
                PublishRejection(frame, RejectionKind.Internal, message);
            }
            Touch();
        }
    }

    /// <summary>
    /// The first frame gives the size: points added before it that lie outside [0, W] x [0, H] leave the tracker and are
    /// reported invalid from now on (a tracker would otherwise report them, clamped, as confident tracks); subscribers
    /// get one POINTS_INVALID notice. Called under the engine lock.
    /// </summary>
    private void CheckPointsAgainst(int width, int height)
    {
        var rejected = new SessionNotice { Kind = SessionNotice.Types.Kind.PointsInvalid };
        foreach ((uint id, float x, float y) in _unchecked)
        {
            if (x <= width && y <= height) continue;
            _engine!.RemovePoint((int)id);
            string reason = $"outside the {width}x{height} frame (x in [0, {width}], y in [0, {height}])";
            _invalid[id] = new PointState { Id = id, X = x, Y = y, Visible = false, OcclusionProbability = 1, Uncertainty = 1, InvalidReason = reason };
            rejected.PointIds.Add(id);
        }
        _unchecked.Clear();
        _pointCount = _engine!.PointCount + _invalid.Count;
        if (rejected.PointIds.Count == 0) return;
        rejected.Message = $"points {string.Join(", ", rejected.PointIds)} lie outside the {width}x{height} frame: not tracked";
        AddNotice(rejected);
    }

    /// <summary>Puts the invalid points into <paramref name="update"/>, keeping its ascending id order.</summary>
    private void AddInvalidPoints(TrackUpdate update)
    {
        var all = update.Points.Concat(_invalid.Values).OrderBy(p => p.Id).ToList();
        update.Points.Clear();
        update.Points.Add(all);
    }

    /// <summary>A frame the loop could not track: the Track call hears it at once, plain subscribers on the next update.</summary>
    private void PublishRejection(Frame frame, RejectionKind kind, string message)
    {
        int code = (int)WireStatus.Of(kind);
        Publish(new SessionEvent(null, new FrameRejected { Sequence = frame.Sequence, CaptureTimeNs = frame.CaptureTimeNs, Code = code, Message = message }));
        AddNotice(new SessionNotice { Kind = SessionNotice.Types.Kind.FrameRejected, Sequence = frame.Sequence, CaptureTimeNs = frame.CaptureTimeNs, Code = code, Message = message });
    }

    /// <summary>
    /// DROP_OLDEST is for live cameras: when a newer frame is already queued, this one is stale and is dropped, so an
    /// overloaded engine always works on the newest frame instead of a queue of old ones (BLOCK keeps every frame).
    /// </summary>
    private bool IsStale(IngestItem item) =>
        Settings.Policy == IngestPolicy.DropOldest && _ingest.Reader.TryPeek(out IngestItem? next) && next.Frame is not null;

    private void ProcessFrame(IngestItem item, Frame frame, FramePipeline pipeline)
    {
        long start = Stopwatch.GetTimestamp();
        RgbImage image = Decode(frame, item.Shape, pipeline);
        if (image.Width != item.Shape.Width || image.Height != item.Shape.Height)
        {
            throw new RejectionException(RejectionKind.InvalidArgument,
                $"corrupt image: header says {item.Shape.Width}x{item.Shape.Height} but it decodes to {image.Width}x{image.Height}");
        }
        TrackUpdate update;
        lock (_engineLock)
        {
            if (_engine is null) return;
            if (_unchecked.Count > 0) CheckPointsAgainst(image.Width, image.Height);
            update = pipeline.Track(_engine, new FrameStamp(Id, frame.Sequence, frame.CaptureTimeNs, item.ReceiveNs));
            if (_invalid.Count > 0) AddInvalidPoints(update);
            update.ProcessingMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            update.FramesDropped = (ulong)Interlocked.Read(ref _dropped);
            update.FramesRejected = (ulong)Interlocked.Read(ref _rejected);
            update.PublishTimeNs = NowNs();
            lock (_pendingNotices)
            {
                update.Notices.Add(_pendingNotices);
                _pendingNotices.Clear();
            }
            // Queued for the recording task (tracker order, since commands queue under this lock too); the disk
            // write happens there, never here.
            _recording?.Enqueue(RecordedItem.Tracked(frame, item.ReceiveNs, update));
            _processingMs.Add(update.ProcessingMs);
            _latencyMs.Add((update.PublishTimeNs - item.ReceiveNs) / 1e6);
            Interlocked.Increment(ref _processed);
        }
        Publish(new SessionEvent(update, null));
    }

    /// <summary>Decodes with the full decoders; a failure is this frame's rejection (INVALID_ARGUMENT).</summary>
    private static RgbImage Decode(Frame frame, FrameShape shape, FramePipeline pipeline)
    {
        try
        {
            return pipeline.Decode(frame, shape.Format);
        }
        catch (ImageDecodeException ex)
        {
            throw new RejectionException(RejectionKind.InvalidArgument, $"corrupt image ({shape.Format}): {ex.Message}");
        }
        catch (ImagingDependencyException ex)
        {
            throw new RejectionException(RejectionKind.Unavailable, ex.Message);
        }
    }

    /// <summary>Offers an event to every subscriber; never waits.</summary>
    private void Publish(SessionEvent item)
    {
        foreach (Subscriber subscriber in Volatile.Read(ref _subscribers)) subscriber.Offer(item);
    }

    // ------------------------------------------------------------------ points

    /// <summary>Validates and adds points; they attach to the next frame the engine processes.</summary>
    public AddPointsResponse AddPoints(AddPointsRequest request)
    {
        if (request.Points.Count == 0) throw new RejectionException(RejectionKind.InvalidArgument, "AddPoints has no points");
        int width = Volatile.Read(ref _frameWidth), height = Volatile.Read(ref _frameHeight);
        for (int i = 0; i < request.Points.Count; i++)
        {
            PointQuery p = request.Points[i];
            string where = $"point {i} ({p.X.ToString(System.Globalization.CultureInfo.InvariantCulture)}, {p.Y.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
            if (!float.IsFinite(p.X) || !float.IsFinite(p.Y))
                throw new RejectionException(RejectionKind.InvalidArgument, $"{where} is not a finite position (NaN or infinite)");
            if (p.X < 0 || p.Y < 0)
                throw new RejectionException(RejectionKind.InvalidArgument, $"{where} is outside the image: coordinates start at 0 (top-left corner)");
            if (width > 0 && (p.X > width || p.Y > height))
                throw new RejectionException(RejectionKind.InvalidArgument, $"{where} is outside the {width}x{height} frame (x in [0, {width}], y in [0, {height}])");
        }
        lock (_engineLock)
        {
            if (_engine is null) throw ClosedException();
            if (_pointCount + request.Points.Count > Settings.MaxPoints)
            {
                throw new RejectionException(RejectionKind.ResourceExhausted,
                    $"session {Id} has {_pointCount} points; adding {request.Points.Count} would exceed the limit of {Settings.MaxPoints}");
            }
            var response = new AddPointsResponse { QueryFrameIndex = _engine.FrameCount };
            try
            {
                foreach (PointQuery p in request.Points)
                {
                    uint pointId = (uint)_engine.AddPoint(p.X, p.Y);
                    response.PointIds.Add(pointId);
                    if (width == 0) _unchecked.Add((pointId, p.X, p.Y)); // no frame size yet: checked at the first frame
                }
            }
            catch (ArgumentException ex)
            {
                // The engine's own check (e.g. a frame size learnt after ours); ids already added stay, as in the engine.
                _pointCount = _engine.PointCount + _invalid.Count;
                throw new RejectionException(RejectionKind.InvalidArgument, ex.Message);
            }
            _pointCount = _engine.PointCount + _invalid.Count;
            _recording?.Enqueue(RecordedItem.Added(response.QueryFrameIndex, request, response, NowNs()));
            return response;
        }
    }

    /// <summary>Removes points at once (before the next frame); unknown ids are listed, not an error.</summary>
    public RemovePointsResponse RemovePoints(RemovePointsRequest request)
    {
        lock (_engineLock)
        {
            if (_engine is null) throw ClosedException();
            var response = new RemovePointsResponse();
            foreach (uint id in request.PointIds)
            {
                _unchecked.RemoveAll(u => u.Id == id); // removed before the first frame: nothing left to check
                if (_invalid.Remove(id) || (id <= int.MaxValue && _engine.RemovePoint((int)id))) response.Removed.Add(id);
                else response.Unknown.Add(id);
            }
            _pointCount = _engine.PointCount + _invalid.Count;
            long frameIndex = _engine.FrameCount;
            _recording?.Enqueue(RecordedItem.Removed(frameIndex, request, response, NowNs()));
            return response;
        }
    }

    // ------------------------------------------------------------------ subscribers

    /// <summary>Adds a subscriber; on a closed session it is completed at once (its stream ends OK).</summary>
    public Subscriber Subscribe(int capacity, bool wantsRejections)
    {
        var subscriber = new Subscriber(capacity, wantsRejections);
        lock (_subscriberLock)
        {
            if (_subscribersClosed) subscriber.Complete();
            else _subscribers = [.. _subscribers, subscriber];
        }
        return subscriber;
    }

    public void Unsubscribe(Subscriber subscriber)
    {
        lock (_subscriberLock) _subscribers = _subscribers.Where(s => s != subscriber).ToArray();
        subscriber.Complete();
    }

    // ------------------------------------------------------------------ close

    /// <summary>
    /// Closes the session once (later calls return the same task): stops ingest, lets the engine finish the queued
    /// frames (or skips them when <paramref name="drain"/> is false), ends every subscription with OK, completes
    /// the recording and releases the tracker.
    /// </summary>
    public Task CloseAsync(string reason, bool drain = true)
    {
        lock (_stateLock)
        {
            if (_closeTask is not null)
            {
                if (!drain) _abort.Cancel();
                return _closeTask;
            }
            _closeReason = reason;
            _closing = true;
            if (!drain) _abort.Cancel();
            _ingest.Writer.TryComplete();
            _closeTask = FinishCloseAsync();
            return _closeTask;
        }
    }

    /// <summary>Cuts a running drain short: the frames still queued are dropped.</summary>
    public void AbortDrain() => _abort.Cancel();

    private async Task FinishCloseAsync()
    {
        await _loop.ConfigureAwait(false);
        Subscriber[] subscribers;
        lock (_subscriberLock)
        {
            subscribers = _subscribers;
            _subscribers = [];
            _subscribersClosed = true;
        }
        RejectionException? ending = CloseReasons.SubscriberStatus(Id, _closeReason);
        foreach (Subscriber s in subscribers) s.Complete(ending);
        lock (_engineLock)
        {
            _engine?.Dispose();
            _engine = null;
        }
        // Everything queued is on disk and the file is complete before the session counts as closed.
        if (_recording is not null) await _recording.CompleteAsync().ConfigureAwait(false);
        Interlocked.Exchange(ref _closedNs, NowNs());
        ServerLog.SessionClosed(_logger, Id, _closeReason, Interlocked.Read(ref _processed), Interlocked.Read(ref _dropped), Interlocked.Read(ref _rejected));
    }

    private void ThrowIfClosing()
    {
        if (_closing) ThrowClosed();
    }

    private void ThrowClosed() => throw ClosedException();

    private RejectionException ClosedException() =>
        new(RejectionKind.Aborted, $"session {Id} is closed ({(_closeReason.Length == 0 ? "closing" : _closeReason)})");

    // ------------------------------------------------------------------ info

    public SessionInfo ToInfo()
    {
        (double p50, double p99) = _processingMs.Percentiles();
        (double l50, double l99) = _latencyMs.Percentiles();
        long closedNs = Interlocked.Read(ref _closedNs);
        return new SessionInfo
        {
            SessionId = Id,
            CameraId = Settings.CameraId,
            Model = Model,
            Provider = Provider,
            Method = ToWire(Method),
            FrameWidth = (uint)Volatile.Read(ref _frameWidth),
            FrameHeight = (uint)Volatile.Read(ref _frameHeight),
            IngestPolicy = Settings.Policy,
            IngestQueueFrames = (uint)Settings.IngestQueueFrames,
            State = closedNs != 0 ? SessionState.Closed : SessionState.Open,
            OpenedTimeNs = OpenedNs,
            ClosedTimeNs = closedNs,
            EpisodePath = Path.GetFileName(EpisodePath), // the name Replay takes; server paths stay on the server
            CloseReason = _closeReason,
            Stats = new SessionStats
            {
                FramesReceived = (ulong)Interlocked.Read(ref _received),
                FramesProcessed = (ulong)Interlocked.Read(ref _processed),
                FramesDropped = (ulong)Interlocked.Read(ref _dropped),
                FramesRejected = (ulong)Interlocked.Read(ref _rejected),
                Points = (uint)Volatile.Read(ref _pointCount),
                Subscribers = (uint)Volatile.Read(ref _subscribers).Length,
                ProcessingMsP50 = p50,
                ProcessingMsP99 = p99,
                LatencyMsP50 = l50,
                LatencyMsP99 = l99,
            },
        };
    }

    public static Protocol.V1.TrackingMethod ToWire(TrackingMethod method) => method switch
    {
        TrackingMethod.Fused => Protocol.V1.TrackingMethod.Fused,
        TrackingMethod.Tapir => Protocol.V1.TrackingMethod.Tapir,
        TrackingMethod.TapirLk => Protocol.V1.TrackingMethod.TapirLk,
        _ => Protocol.V1.TrackingMethod.Gmrw,
    };

    private long NowNs() => (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>A queued frame (with what ingest learnt about it), or a flush marker.</summary>
    /// <param name="Notice">What this frame tells subscribers (a clock re-base): published with its update, or the next
    /// one when the frame is dropped or rejected.</param>
    private sealed record IngestItem(Frame? Frame, FrameShape Shape, long ReceiveNs, IngestCall? Call, TaskCompletionSource? Marker,
        SessionNotice? Notice = null);
}
