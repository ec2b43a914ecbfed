using System.Runtime.CompilerServices;
using System.Threading.Channels;
using CausalTap.Protocol.V1;

namespace CausalTap.Server;

/// <summary>One thing a session publishes: a processed frame's update, or a frame the engine loop rejected.</summary>
internal readonly record struct SessionEvent(TrackUpdate? Update, FrameRejected? Rejection);

/// <summary>
/// One reader of a session's updates with its own bounded latest-wins queue: the engine loop offers every update
/// without ever waiting (<see cref="Offer"/> is a non-blocking TryWrite on a DropOldest channel), so a stalled
/// reader only loses its own oldest queued updates. Each loss is counted and reported to this reader as
/// <see cref="TrackUpdate.UpdatesSkipped"/> (cumulative) on the next update it reads. The notices a skipped update
/// carried (<see cref="TrackUpdate.Notices"/>) are not lost: they are put on the next update this reader gets.
/// </summary>
internal sealed class Subscriber
{
    /// <summary>The queue; the engine loop writes, the subscriber's call reads.</summary>
    private readonly Channel<SessionEvent> _queue;
    /// <summary>Updates discarded from this queue so far (written by the channel's drop callback).</summary>
    private long _skipped;
    /// <summary>This subscriber's copy of the current update once it has skipped any (see <see cref="ReadAllAsync"/>).</summary>
    private readonly TrackUpdate _own = new();
    /// <summary>Notices of updates dropped from this queue, for the next update read (guarded by itself).</summary>
    private readonly List<SessionNotice> _carried = new();

    public Subscriber(int capacity, bool wantsRejections)
    {
        WantsRejections = wantsRejections;
        _queue = Channel.CreateBounded<SessionEvent>(new BoundedChannelOptions(Math.Max(1, capacity))
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = false,
        }, dropped =>
        {
            if (dropped.Update is null) return;
            Interlocked.Increment(ref _skipped);
            if (dropped.Update.Notices.Count > 0)
            {
                lock (_carried) _carried.AddRange(dropped.Update.Notices);
            }
        });
    }

    /// <summary>Whether frames rejected inside the engine loop are delivered too (the Track call wants them).</summary>
    public bool WantsRejections { get; }

    /// <summary>Updates skipped so far.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>Queues an event without waiting; when full, the oldest queued event is discarded (and counted).</summary>
    public void Offer(SessionEvent item)
    {
        if (item.Rejection is not null && !WantsRejections) return;
        _queue.Writer.TryWrite(item);
    }

    /// <summary>Ends the stream after the queued events (session closed or the subscriber left); with
    /// <paramref name="error"/> the reader gets it after the last event (the call's status says why).</summary>
    public void Complete(Exception? error = null) => _queue.Writer.TryComplete(error);

    /// <summary>
    /// Yields queued events until <see cref="Complete"/>. Updates are shared between subscribers, so an update that
    /// must carry this subscriber's skip count is copied into this subscriber's one reusable message (the points
    /// are shared, not cloned): once a reader has skipped, every later update carries the cumulative count, and a
    /// deep clone per update would allocate for the rest of the session. The caller must finish with a yielded
    /// update (write it) before asking for the next one, which both gRPC calls do.
    /// </summary>
    public async IAsyncEnumerable<SessionEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (SessionEvent item in _queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            long skipped = Skipped;
            if (item.Update is { } update && skipped > 0)
            {
                CopyShallow(update, _own);
                _own.UpdatesSkipped = (ulong)skipped;
                lock (_carried)
                {
                    if (_carried.Count > 0)
                    {
                        _own.Notices.Clear();
                        _own.Notices.Add(_carried);
                        _own.Notices.Add(update.Notices);
                        _carried.Clear();
                    }
                }
                yield return new SessionEvent(_own, null);
            }
            else
            {
                yield return item;
            }
        }
    }

    /// <summary>
    /// Copies every field of <paramref name="from"/> into <paramref name="to"/>, sharing the point messages
    /// (nobody changes a published point). A test checks that this covers every field of TrackUpdate.
    /// </summary>
    internal static void CopyShallow(TrackUpdate from, TrackUpdate to)
    {
        to.SessionId = from.SessionId;
        to.FrameIndex = from.FrameIndex;
        to.Sequence = from.Sequence;
        to.CaptureTimeNs = from.CaptureTimeNs;
        to.ReceiveTimeNs = from.ReceiveTimeNs;
        to.PublishTimeNs = from.PublishTimeNs;
        to.FrameWidth = from.FrameWidth;
        to.FrameHeight = from.FrameHeight;
        to.Points.Clear();
        to.Points.Add(from.Points);
        to.FramesDropped = from.FramesDropped;
        to.FramesRejected = from.FramesRejected;
        to.UpdatesSkipped = from.UpdatesSkipped;
        to.ProcessingMs = from.ProcessingMs;
        to.Notices.Clear();
        to.Notices.Add(from.Notices);
    }
}
