using CausalTap.Imaging;
using CausalTap.Tracking;

namespace CausalTap.Pipeline;

/// <summary>What the pipeline tracks with: a <see cref="StreamTracker"/> in production, a stand-in in tests.</summary>
public interface IFrameTracker : IDisposable
{
    /// <summary>Adds a point (source pixels) attached to the next tracked frame; returns its id (1, 2, ...).</summary>
    int AddPoint(float x, float y);

    /// <summary>Removes a point; false when the id is not live.</summary>
    bool RemovePoint(int id);

    /// <summary>Live points (queued + tracked).</summary>
    int PointCount { get; }

    /// <summary>Frames tracked so far = index of the next frame.</summary>
    long FrameCount { get; }

    /// <summary>Tracks one frame; fills <paramref name="points"/> (cleared first) in ascending id order.</summary>
    void Track(RgbImage frame, List<PointEstimate> points);
}

/// <summary>The production tracker: one <see cref="StreamTracker"/> over a shared <see cref="TrackerModel"/>.</summary>
public sealed class StreamFrameTracker(StreamTracker tracker) : IFrameTracker
{
    public StreamTracker Tracker { get; } = tracker;

    public int AddPoint(float x, float y) => Tracker.AddPoint(x, y);

    public bool RemovePoint(int id) => Tracker.RemovePoint(id);

    public int PointCount => Tracker.PointIds.Count;

    public long FrameCount => Tracker.FrameCount;

    public void Track(RgbImage frame, List<PointEstimate> points)
    {
        TrackFrameResult result = Tracker.Track(frame);
        points.Clear();
        foreach (PointEstimate p in result.Points) points.Add(p);
    }

    public void Dispose() => Tracker.Dispose();
}
