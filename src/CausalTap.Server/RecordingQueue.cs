using System.Threading.Channels;
using CausalTap.Protocol.V1;
using Microsoft.Extensions.Logging;

namespace CausalTap.Server;

/// <summary>One thing a session records: a tracked frame with its update, or an applied point command.</summary>
internal sealed record RecordedItem(Action<ISessionRecorder> Write)
{
    public static RecordedItem Tracked(Frame frame, long receiveNs, TrackUpdate update) =>
        new(r => r.WriteTrackedFrame(update.FrameIndex, frame, receiveNs, update));

    public static RecordedItem Added(long queryFrameIndex, AddPointsRequest request, AddPointsResponse response, long logNs) =>
        new(r => r.WritePointsAdded(queryFrameIndex, request, response, logNs));

    public static RecordedItem Removed(long frameIndex, RemovePointsRequest request, RemovePointsResponse response, long logNs) =>
        new(r => r.WritePointsRemoved(frameIndex, request, response, logNs));
}

/// <summary>
/// A session's recording, written on its own task: the engine loop and the point commands queue items (under the
/// engine lock, so the file keeps tracker order) and return at once; serialising and writing chunks happens here,
/// so a slow disk never holds the engine lock or delays publishing. The queue is bounded: a disk slower than the
/// camera for longer than <see cref="Capacity"/> items makes the engine wait rather than lose recorded data. An I/O
/// failure is logged once and ends the recording; tracking goes on.
/// </summary>
internal sealed class RecordingQueue
{
    /// <summary>Items that may wait for the disk (at 30 fps, about 8 s of frames).</summary>
    public const int Capacity = 256;

    private readonly Channel<RecordedItem> _queue = Channel.CreateBounded<RecordedItem>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly ISessionRecorder _recorder;
    private readonly ILogger _logger;
    private readonly string _sessionId;
    private readonly Task _writer;
    private int _waitedForDisk;

    public RecordingQueue(ISessionRecorder recorder, ILogger logger, string sessionId)
    {
        _recorder = recorder;
        _logger = logger;
        _sessionId = sessionId;
        _writer = Task.Run(WriteAllAsync);
    }

    /// <summary>Queues an item; waits only when <see cref="Capacity"/> items are already waiting for the disk.</summary>
    public void Enqueue(RecordedItem item)
    {
        if (_queue.Writer.TryWrite(item)) return;
        if (Interlocked.Exchange(ref _waitedForDisk, 1) == 0)
            ServerLog.Warning(_logger, $"session {_sessionId}: the recording disk is behind by {Capacity} items; tracking waits for it");
        // The writer task never takes the engine lock, so waiting here cannot deadlock; a completed queue refuses.
        _ = _queue.Writer.WriteAsync(item).AsTask().Wait(Timeout.Infinite);
    }

    /// <summary>Writes what is queued, completes the file, and returns when it is on disk.</summary>
    public Task CompleteAsync()
    {
        _queue.Writer.TryComplete();
        return _writer;
    }

    private async Task WriteAllAsync()
    {
        bool failed = false;
        await foreach (RecordedItem item in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (failed) continue; // drain, so producers never wait on a dead recording
            try
            {
                item.Write(_recorder);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                ServerLog.RecordingFailed(_logger, _sessionId, _recorder.Path, ex);
                failed = true;
            }
        }
        try
        {
            _recorder.Dispose();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (!failed) ServerLog.RecordingFailed(_logger, _sessionId, _recorder.Path, ex);
        }
    }
}
