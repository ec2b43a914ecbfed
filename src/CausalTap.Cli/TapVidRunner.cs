using System.Diagnostics;
using CausalTap.Imaging;
using CausalTap.Tracking;
using CausalTap.Tracking.Evaluation;

namespace CausalTap.Cli;

/// <summary>
/// Runs the causal tracker over one TAP-Vid video the way <c>causaltap eval</c> and <c>causaltap predict</c> do.
/// <list type="bullet">
/// <item><b>first</b>: frames 0..T-1 are fed in order; each point is added (AddPoint) just before the Track call
/// of its query frame, so nothing before the query frame is used for it. Before its query frame a point's
/// prediction is irrelevant to the metrics and is filled with the query position, occluded.</item>
/// <item><b>strided</b>: the same forward pass gives frames &gt;= the query frame; a second pass runs the same
/// causal tracker over the time-reversed clip (reversed index r = T-1-t), adding each point at the reversed
/// index of its query frame, and gives frames &lt; the query frame.</item>
/// </list>
/// </summary>
internal sealed class TapVidRunner(LoadedTracker tracker)
{
    /// <summary>Track() calls made so far (both passes).</summary>
    public long FramesTracked { get; private set; }

    /// <summary>Stopwatch ticks spent in Track() so far.</summary>
    public long TrackTicks { get; private set; }

    /// <summary>Called after each tracked frame (for progress).</summary>
    public Action? FrameDone { get; init; }

    /// <summary>Milliseconds per Track() call over everything run so far.</summary>
    public double MillisecondsPerFrame => FramesTracked == 0 ? double.NaN : TrackTicks * 1000.0 / Stopwatch.Frequency / FramesTracked;

    /// <summary>Number of Track() calls <see cref="Predict"/> will make for <paramref name="example"/>.</summary>
    public static int FramesNeeded(TapVidExample example, TapVidQueryMode mode)
    {
        int frames = example.NumFrames;
        if (mode == TapVidQueryMode.Strided)
        {
            int maxQuery = example.NumPoints == 0 ? 0 : example.QueryFrames.Max();
            if (maxQuery > 0) frames += example.NumFrames - (example.NumFrames - 1 - maxQuery);
        }
        return frames;
    }

    /// <summary>Tracks every query point of <paramref name="example"/> in <paramref name="mode"/>.</summary>
    public TapVidPrediction Predict(TapVidExample example, TapVidQueryMode mode)
    {
        int n = example.NumPoints, t = example.NumFrames;
        var prediction = TapVidPrediction.CreateEmpty(n, t);
        for (int i = 0; i < n; i++)
        {
            (float qx, float qy) = example.QueryPosition(i);
            for (int f = 0; f < example.QueryFrames[i]; f++) prediction.Set(i, f, qx, qy, occluded: true);
        }

        using var frame = new RgbImage(example.Width, example.Height);

        // Forward: frames 0..T-1, point i added at its query frame; fills frames >= query.
        RunPass(example, frame, prediction, reversed: false);

        if (mode == TapVidQueryMode.Strided && example.QueryFrames.Any(q => q > 0))
        {
            // Backward: the reversed clip; point i added at reversed index T-1-q; fills frames < query.
            RunPass(example, frame, prediction, reversed: true);
        }
        return prediction;
    }

    private void RunPass(TapVidExample example, RgbImage frame, TapVidPrediction prediction, bool reversed)
    {
        int n = example.NumPoints, t = example.NumFrames;
        // Points by the (pass-local) index at which they are added.
        var addAt = new List<int>[t];
        int firstAdd = t;
        for (int i = 0; i < n; i++)
        {
            int q = example.QueryFrames[i];
            if (reversed && q == 0) continue; // nothing before frame 0 to fill
            int at = reversed ? t - 1 - q : q;
            (addAt[at] ??= []).Add(i);
            firstAdd = Math.Min(firstAdd, at);
        }
        // The forward pass feeds every frame (causal: frames before a query are seen, the point is not yet
        // there); the backward pass only exists for points, so it starts at its first added point.
        int start = reversed ? firstAdd : 0;
        if (start >= t) return;

        using StreamTracker stream = tracker.CreateStream();
        var indexOfId = new Dictionary<int, int>();
        for (int r = start; r < t; r++)
        {
            int source = reversed ? t - 1 - r : r;
            if (addAt[r] is { } adding)
            {
                foreach (int i in adding)
                {
                    (float qx, float qy) = example.QueryPosition(i);
                    indexOfId[stream.AddPoint(qx, qy)] = i;
                }
            }
            example.Frame(source).CopyTo(frame.Pixels);
            long t0 = Stopwatch.GetTimestamp();
            TrackFrameResult result = stream.Track(frame);
            TrackTicks += Stopwatch.GetTimestamp() - t0;
            FramesTracked++;
            foreach (PointEstimate p in result.Points)
            {
                if (!indexOfId.TryGetValue(p.Id, out int i)) continue;
                int q = example.QueryFrames[i];
                // Forward pass owns frames >= q, backward pass frames < q.
                if (reversed ? source < q : source >= q)
                {
                    prediction.Set(i, source, p.X, p.Y, occluded: !p.Visible, p.OcclusionProbability, p.Uncertainty);
                }
            }
            FrameDone?.Invoke();
        }
    }

    /// <summary>
    /// The first <paramref name="maxFrames"/> frames of <paramref name="example"/> (for quick runs), keeping only
    /// the points whose query frame lies within them; the example itself when it is short enough.
    /// </summary>
    public static TapVidExample Truncate(TapVidExample example, int? maxFrames)
    {
        if (maxFrames is not > 0 || example.NumFrames <= maxFrames) return example;
        int m = maxFrames.Value, t = example.NumFrames, size = example.Height * example.Width * 3;
        byte[] video = example.Video.UInt8.AsSpan(0, m * size).ToArray();
        var keep = Enumerable.Range(0, example.NumPoints).Where(i => example.QueryFrames[i] < m).ToList();
        float[] query = new float[keep.Count * 3];
        float[]? target = example.TargetPoints is null ? null : new float[keep.Count * m * 2];
        bool[]? occluded = example.Occluded is null ? null : new bool[keep.Count * m];
        for (int k = 0; k < keep.Count; k++)
        {
            int i = keep[k];
            Array.Copy(example.QueryPoints, 3 * i, query, 3 * k, 3);
            if (target is not null) Array.Copy(example.TargetPoints!, 2 * i * t, target, 2 * k * m, 2 * m);
            if (occluded is not null) Array.Copy(example.Occluded!, i * t, occluded, k * m, m);
        }
        return new TapVidExample(NpyArray.Create(video, m, example.Height, example.Width, 3), query, target, occluded,
            example.QueryMode, example.Name);
    }
}
