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
/// <see cref="TrackUpdate.UpdatesSkipped"/> (cumulative) on the next update it reads.
/// </summary>
internal sealed class Subscriber
{
    /// <summary>The queue; the engine loop writes, the subscriber's call reads.</summary>
    private readonly Channel<SessionEvent> _queue;
    /// <summary>Updates discarded from this queue so far (written by the channel's drop callback).</summary>
    private long _skipped;

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
            if (dropped.Update is not null) Interlocked.Increment(ref _skipped);
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

    /// <summary>Ends the stream after the queued events (session closed or the subscriber left).</summary>
    public void Complete() => _queue.Writer.TryComplete();

    /// <summary>
    /// Yields queued events until <see cref="Complete"/>. Updates are shared between subscribers, so an update that
    /// must carry this subscriber's skip count is cloned rather than changed.
    /// </summary>
    public async IAsyncEnumerable<SessionEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (SessionEvent item in _queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            long skipped = Skipped;
            if (item.Update is { } update && skipped > 0)
            {
                TrackUpdate own = update.Clone();
                own.UpdatesSkipped = (ulong)skipped;
                yield return new SessionEvent(own, null);
            }
            else
            {
                yield return item;
            }
        }
    }
}
