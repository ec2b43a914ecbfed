using System.Runtime.CompilerServices;
using CausalTap.Pipeline;
using CausalTap.Protocol.V1;
using CausalTap.Tracking;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Episodes;

/// <summary>How <see cref="EpisodeReplayer.ReplayAsync"/> runs.</summary>
/// <param name="Realtime">Pace frames by their recorded capture times (else as fast as the engine runs).</param>
/// <param name="Output">Also record the replay (frames, commands, updates) to this recorder; the caller disposes it.</param>
/// <param name="SessionId">Session id of the yielded updates; null = the recorded session's id.</param>
/// <param name="Clock">Clock for pacing and for the updates' receive/publish times; null = <see cref="TimeProvider.System"/>.</param>
public sealed record ReplayOptions(bool Realtime = false, EpisodeRecorder? Output = null, string? SessionId = null, TimeProvider? Clock = null);

/// <summary>Re-runs a tracker over a recorded episode.</summary>
public static class EpisodeReplayer
{
    /// <summary>
    /// Re-runs <paramref name="model"/> over the recorded frames in file order, applying each recorded point command
    /// before the frame it names (adds at their query frame, removes at the first frame without the points), so point
    /// ids and outputs equal a live run's. Yields one <see cref="TrackUpdate"/> per recorded frame: frame index,
    /// capture time and the camera's sequence as recorded, point ids as recorded, receive/publish times and
    /// processing time from the replay's own clock. Deterministic: the same episode, model and method give the same
    /// positions. A file cut by a crash replays every frame of its complete chunks.
    /// </summary>
    public static async IAsyncEnumerable<TrackUpdate> ReplayAsync(string episodePath, TrackerModel model, TrackingMethod method,
        ReplayOptions options, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(episodePath);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var clock = options.Clock ?? TimeProvider.System;
        using var reader = EpisodeReader.Open(episodePath);
        var sessionId = options.SessionId ?? reader.Metadata?.SessionId ?? "";
        using var tracker = new StreamFrameTracker(new StreamTracker(model, method));
        using var pipeline = new FramePipeline();
        var points = new PointTable(tracker.Tracker);
        var pending = new List<PointCommand>();
        long? firstCapture = null;
        long paceStart = 0;

        foreach (var step in Steps(reader.ReadEvents()))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var frame = step.Frame;
            pending.AddRange(step.Commands);

            if (options.Realtime)
            {
                if (firstCapture is null)
                {
                    firstCapture = frame.CaptureTimeNs;
                    paceStart = clock.GetTimestamp();
                }
                else
                {
                    var due = TimeSpan.FromTicks((frame.CaptureTimeNs - firstCapture.Value) / 100);
                    var wait = due - clock.GetElapsedTime(paceStart);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, clock, cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            // Commands apply before the frame they name, in file order; a command naming a later frame waits.
            for (var i = 0; i < pending.Count;)
            {
                var command = pending[i];
                if (command.FrameIndex > frame.FrameIndex)
                {
                    i++;
                    continue;
                }
                pending.RemoveAt(i);
                var applied = points.Apply(command, frame.FrameIndex);
                if (options.Output is { } output)
                {
                    var now = NowNs(clock);
                    if (applied.Added is { } added)
                    {
                        var response = new AddPointsResponse { QueryFrameIndex = frame.FrameIndex };
                        response.PointIds.Add(added.PointIds);
                        var request = new AddPointsRequest { SessionId = sessionId };
                        request.Points.Add(added.Points);
                        output.WritePointsAdded(frame.FrameIndex, request, response, now);
                    }
                    else if (applied.Removed is { } removed)
                    {
                        var response = new RemovePointsResponse();
                        response.Removed.Add(removed.PointIds);
                        response.Unknown.Add(removed.Unknown);
                        var request = new RemovePointsRequest { SessionId = sessionId };
                        request.PointIds.Add(removed.PointIds);
                        request.PointIds.Add(removed.Unknown);
                        output.WritePointsRemoved(frame.FrameIndex, request, response, now);
                    }
                }
            }

            var receiveNs = NowNs(clock);
            var started = clock.GetTimestamp();
            pipeline.Decode(frame.Frame);
            var update = pipeline.Track(tracker, new FrameStamp(sessionId, step.Recorded?.Sequence ?? 0, frame.CaptureTimeNs, receiveNs), points.RecordedId);
            update.FrameIndex = frame.FrameIndex;
            update.ProcessingMs = clock.GetElapsedTime(started).TotalMilliseconds;
            update.PublishTimeNs = NowNs(clock);
            options.Output?.WriteTrackedFrame(frame.FrameIndex, frame.Frame, receiveNs, update);
            yield return update;
        }
    }

    /// <summary>A recorded frame with the commands read up to the next frame and the update recorded for it.</summary>
    private sealed record Step(EpisodeFrame Frame, List<PointCommand> Commands, TrackUpdate? Recorded);

    /// <summary>
    /// Groups the events: each frame comes with the commands read before the next frame (a command the live session
    /// handled while this frame was being processed lands after it in the file) and its recorded update (for the
    /// camera's sequence).
    /// </summary>
    private static IEnumerable<Step> Steps(IEnumerable<EpisodeEvent> events)
    {
        Step? current = null;
        var commands = new List<PointCommand>();
        foreach (var ev in events)
        {
            switch (ev)
            {
                case EpisodeFrame frame:
                    if (current is not null)
                    {
                        yield return current;
                    }
                    current = new Step(frame, commands, null);
                    commands = [];
                    break;
                case EpisodeCommand command:
                    (current?.Commands ?? commands).Add(command.Command);
                    break;
                case EpisodeUpdate update when current is not null && update.Update.FrameIndex == current.Frame.FrameIndex:
                    current = current with { Recorded = update.Update };
                    break;
            }
        }
        if (current is not null)
        {
            yield return current;
        }
    }

    private static long NowNs(TimeProvider clock) => (clock.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>The replay's points and how their tracker ids map to the recorded ids.</summary>
    private sealed class PointTable(StreamTracker tracker)
    {
        private readonly Dictionary<int, uint> _recordedOf = [];   // tracker id -> recorded id
        private readonly Dictionary<uint, int> _trackerOf = [];    // recorded id -> tracker id

        public uint RecordedId(int trackerId) => _recordedOf.TryGetValue(trackerId, out var id) ? id : (uint)trackerId;

        /// <summary>Applies a command; returns it as applied (ids as recorded, points that failed to add dropped).</summary>
        public PointCommand Apply(PointCommand command, long frameIndex)
        {
            var applied = new PointCommand { FrameIndex = frameIndex, LogTimeNs = command.LogTimeNs };
            switch (command.CommandCase)
            {
                case PointCommand.CommandOneofCase.Added:
                    var added = new PointsAdded();
                    for (var i = 0; i < command.Added.Points.Count; i++)
                    {
                        var q = command.Added.Points[i];
                        int trackerId;
                        try
                        {
                            trackerId = tracker.AddPoint(q.X, q.Y);
                        }
                        catch (ArgumentException)
                        {
                            continue; // the live session accepted it, so this only happens with a foreign file; skip the point
                        }
                        var recorded = i < command.Added.PointIds.Count ? command.Added.PointIds[i] : (uint)trackerId;
                        _recordedOf[trackerId] = recorded;
                        _trackerOf[recorded] = trackerId;
                        added.Points.Add(q);
                        added.PointIds.Add(recorded);
                    }
                    applied.Added = added;
                    break;
                case PointCommand.CommandOneofCase.Removed:
                    var removed = new PointsRemoved();
                    foreach (var id in command.Removed.PointIds)
                    {
                        if (_trackerOf.Remove(id, out var trackerId) && tracker.RemovePoint(trackerId))
                        {
                            _recordedOf.Remove(trackerId);
                            removed.PointIds.Add(id);
                        }
                        else
                        {
                            removed.Unknown.Add(id);
                        }
                    }
                    removed.Unknown.Add(command.Removed.Unknown);
                    applied.Removed = removed;
                    break;
            }
            return applied;
        }
    }
}
