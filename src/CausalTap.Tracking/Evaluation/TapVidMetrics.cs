namespace CausalTap.Tracking.Evaluation;

/// <summary>
/// The image size at which TAP-Vid thresholds (1, 2, 4, 8, 16 px) are measured. The reference evaluation
/// (google-deepmind/tapnet <c>evaluation_datasets.py</c>) resizes every video to 256x256 and scales the
/// normalised annotations by that size before calling <c>compute_tapvid_metrics</c>, whose docstring says
/// "the paper metrics assume these are scaled relative to 256x256 images". <see cref="Default"/> is that.
/// Tracks given in the pixels of a W x H video are mapped with x' = x·(Width/W), y' = y·(Height/H) (a pure
/// scale in the raster convention). <see cref="Native"/> measures in the video's own pixels.
/// </summary>
public readonly record struct TapVidResolution(int Height, int Width)
{
    /// <summary>256x256, the TAP-Vid standard.</summary>
    public static TapVidResolution Default => new(256, 256);

    /// <summary>No rescaling: thresholds in the video's own pixels.</summary>
    public static TapVidResolution Native => new(0, 0);

    /// <summary>Whether this is <see cref="Native"/>.</summary>
    public bool IsNative => Height == 0 && Width == 0;

    /// <inheritdoc/>
    public override string ToString() => IsNative ? "native" : $"{Width}x{Height}";

    /// <summary>Parses <c>WxH</c> (e.g. <c>256x256</c>) or <c>native</c>.</summary>
    public static TapVidResolution Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().ToLowerInvariant();
        if (t == "native") return Native;
        string[] parts = t.Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], out int w) && int.TryParse(parts[1], out int h) && w > 0 && h > 0)
            return new TapVidResolution(h, w);
        throw new ArgumentException($"bad resolution '{text}' (expected WxH such as 256x256, or 'native')", nameof(text));
    }
}

/// <summary>
/// TAP-Vid metrics of one video (or their mean over videos). All values are fractions in [0,1] like the
/// reference's (the paper and the text table show them x100). A value is NaN where its denominator is zero
/// (e.g. no visible ground truth on the evaluated frames), as numpy gives in the reference.
/// </summary>
public sealed record TapVidMetricValues
{
    /// <summary>Fraction of evaluated (point, frame) pairs whose predicted occlusion equals the ground truth.</summary>
    public required double OcclusionAccuracy { get; init; }

    /// <summary>pts_within_{1,2,4,8,16}: fraction of visible ground-truth points predicted within the threshold (ignoring predicted occlusion).</summary>
    public required IReadOnlyList<double> PtsWithin { get; init; }

    /// <summary>jaccard_{1,2,4,8,16}: TP / (TP + FP + FN) at each threshold.</summary>
    public required IReadOnlyList<double> Jaccard { get; init; }

    /// <summary>average_pts_within_thresh (δ^x_avg): mean of <see cref="PtsWithin"/>.</summary>
    public required double AveragePtsWithinThresh { get; init; }

    /// <summary>average_jaccard (AJ): mean of <see cref="Jaccard"/>.</summary>
    public required double AverageJaccard { get; init; }

    /// <summary>Number of query points (summed over videos for a mean).</summary>
    public long NumPoints { get; init; }

    /// <summary>Evaluated (point, frame) pairs (summed over videos for a mean).</summary>
    public long EvaluatedPairs { get; init; }

    /// <summary>Evaluated pairs where the ground truth is visible (summed over videos for a mean).</summary>
    public long VisiblePairs { get; init; }

    /// <summary>The metrics under the reference's key names, in a fixed order (AJ, δ_avg, OA, then per threshold).</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Named()
    {
        var list = new List<KeyValuePair<string, double>>
        {
            new("average_jaccard", AverageJaccard),
            new("average_pts_within_thresh", AveragePtsWithinThresh),
            new("occlusion_accuracy", OcclusionAccuracy),
        };
        for (int k = 0; k < TapVidMetrics.Thresholds.Count; k++)
            list.Add(new("jaccard_" + TapVidMetrics.Thresholds[k], Jaccard[k]));
        for (int k = 0; k < TapVidMetrics.Thresholds.Count; k++)
            list.Add(new("pts_within_" + TapVidMetrics.Thresholds[k], PtsWithin[k]));
        return list;
    }
}

/// <summary>
/// TAP-Vid metrics (Doersch et al., "TAP-Vid: A Benchmark for Tracking Any Point in a Video", arXiv
/// 2211.03726), computed as the reference <c>compute_tapvid_metrics</c> does:
/// <list type="bullet">
/// <item>Query frame q = round(t) (half to even). Evaluated frames: <b>first</b> mode: frames t &gt; q (the
/// query frame itself and everything before it are excluded); <b>strided</b> mode: every frame t ≠ q.</item>
/// <item>Occlusion accuracy: fraction of evaluated (point, frame) pairs with predicted occluded == ground-truth occluded.</item>
/// <item>Positions are scaled to <see cref="TapVidResolution"/> (256x256 by default), then for each threshold
/// δ ∈ {1,2,4,8,16} px a prediction is "within" when its squared Euclidean distance to the ground truth is
/// strictly less than δ².</item>
/// <item>pts_within_δ: (within ∧ gt visible) / (gt visible), on evaluated frames, ignoring predicted occlusion.</item>
/// <item>jaccard_δ = TP / (TP + FP + FN) with TP = gt visible ∧ predicted visible ∧ within;
/// FP = predicted visible ∧ (gt occluded ∨ not within); FN = gt visible ∧ ¬TP. Since TP + FN = gt visible,
/// the denominator is (gt visible + FP): a visible point predicted visible but too far counts as both FP and FN.</item>
/// <item>average_pts_within_thresh and average_jaccard are the means over the five thresholds.</item>
/// <item>Counts are summed over all points and frames of one video; the benchmark number is the plain mean of
/// the per-video values over videos (<see cref="Mean"/>). Values are fractions; the paper shows x100.</item>
/// </list>
/// Arithmetic is in double: coordinates are widened from float32, scaled, then subtracted, as numpy does
/// with float32 tracks and float64 scale factors.
/// </summary>
public static class TapVidMetrics
{
    /// <summary>The pixel thresholds δ.</summary>
    public static IReadOnlyList<int> Thresholds { get; } = [1, 2, 4, 8, 16];

    /// <summary>Whether frame <paramref name="frame"/> of a point queried at <paramref name="queryFrame"/> is evaluated.</summary>
    public static bool IsEvaluated(TapVidQueryMode mode, int queryFrame, int frame) => mode switch
    {
        TapVidQueryMode.First => frame > queryFrame,
        TapVidQueryMode.Strided => frame != queryFrame,
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    /// <summary>
    /// Scores <paramref name="prediction"/> against the ground truth of <paramref name="example"/>.
    /// </summary>
    /// <param name="example">the video with ground truth.</param>
    /// <param name="prediction">tracks in the video's pixels, same N and T.</param>
    /// <param name="mode">query mode; when null, the example's <c>query_mode</c> (an error if it has none).</param>
    /// <param name="resolution">where thresholds are measured; null = <see cref="TapVidResolution.Default"/> (256x256).</param>
    public static TapVidMetricValues Compute(TapVidExample example, TapVidPrediction prediction,
        TapVidQueryMode? mode = null, TapVidResolution? resolution = null)
    {
        ArgumentNullException.ThrowIfNull(example);
        ArgumentNullException.ThrowIfNull(prediction);
        if (!example.HasGroundTruth)
            throw new TapVidDataException($"{example.Name}: no ground truth ('target_points', 'occluded') to score against");
        if (prediction.NumPoints != example.NumPoints || prediction.NumFrames != example.NumFrames)
            throw new TapVidDataException(
                $"{example.Name}: prediction has N={prediction.NumPoints}, T={prediction.NumFrames}; the video has N={example.NumPoints}, T={example.NumFrames}");
        TapVidQueryMode m = mode ?? example.QueryMode
            ?? throw new ArgumentException($"{example.Name}: no query mode given and the file has no 'query_mode'", nameof(mode));
        return Compute(example.QueryPoints, example.TargetPoints!, example.Occluded!, prediction.Tracks, prediction.Occluded,
            example.NumPoints, example.NumFrames, m, example.Height, example.Width, resolution ?? TapVidResolution.Default);
    }

    /// <summary>
    /// Core computation on flat arrays (C order): query points [N,3] (t,y,x), ground-truth tracks [N,T,2] (x,y),
    /// ground-truth occlusion [N,T], predicted tracks [N,T,2], predicted occlusion [N,T]; coordinates in the
    /// pixels of a <paramref name="videoWidth"/> x <paramref name="videoHeight"/> video, measured at
    /// <paramref name="resolution"/>.
    /// </summary>
    public static TapVidMetricValues Compute(
        ReadOnlySpan<float> queryPoints, ReadOnlySpan<float> gtTracks, ReadOnlySpan<bool> gtOccluded,
        ReadOnlySpan<float> predTracks, ReadOnlySpan<bool> predOccluded,
        int numPoints, int numFrames, TapVidQueryMode mode,
        int videoHeight, int videoWidth, TapVidResolution resolution)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(numPoints);
        ArgumentOutOfRangeException.ThrowIfNegative(numFrames);
        int pairs = numPoints * numFrames;
        if (queryPoints.Length != numPoints * 3) throw new ArgumentException($"query points: expected {numPoints * 3} values, got {queryPoints.Length}");
        if (gtTracks.Length != pairs * 2) throw new ArgumentException($"ground-truth tracks: expected {pairs * 2} values, got {gtTracks.Length}");
        if (predTracks.Length != pairs * 2) throw new ArgumentException($"predicted tracks: expected {pairs * 2} values, got {predTracks.Length}");
        if (gtOccluded.Length != pairs) throw new ArgumentException($"ground-truth occlusion: expected {pairs} values, got {gtOccluded.Length}");
        if (predOccluded.Length != pairs) throw new ArgumentException($"predicted occlusion: expected {pairs} values, got {predOccluded.Length}");

        double sx = 1.0, sy = 1.0;
        if (!resolution.IsNative)
        {
            if (videoWidth <= 0 || videoHeight <= 0) throw new ArgumentException("video size must be positive to rescale");
            sx = resolution.Width / (double)videoWidth;
            sy = resolution.Height / (double)videoHeight;
        }

        int nt = Thresholds.Count;
        Span<double> thr2 = stackalloc double[nt];
        for (int k = 0; k < nt; k++) thr2[k] = (double)Thresholds[k] * Thresholds[k];
        Span<long> withinVisible = stackalloc long[nt];
        Span<long> truePos = stackalloc long[nt];
        Span<long> falsePos = stackalloc long[nt];
        withinVisible.Clear();
        truePos.Clear();
        falsePos.Clear();
        long evaluated = 0, occCorrect = 0, visibleCount = 0;

        for (int i = 0; i < numPoints; i++)
        {
            double qt = queryPoints[3 * i];
            double qr = Math.Round(qt, MidpointRounding.ToEven);
            if (!(qr >= 0 && qr <= numFrames - 1))
                throw new ArgumentException($"query point {i} has t = {qt}, outside frames 0..{numFrames - 1}");
            int q = (int)qr;
            for (int t = 0; t < numFrames; t++)
            {
                if (!IsEvaluated(mode, q, t)) continue;
                int k0 = i * numFrames + t;
                evaluated++;
                bool gtVisible = !gtOccluded[k0];
                bool predVisible = !predOccluded[k0];
                if (gtOccluded[k0] == predOccluded[k0]) occCorrect++;
                if (gtVisible) visibleCount++;

                double dx = predTracks[2 * k0] * sx - gtTracks[2 * k0] * sx;
                double dy = predTracks[2 * k0 + 1] * sy - gtTracks[2 * k0 + 1] * sy;
                double d2 = dx * dx + dy * dy;
                for (int k = 0; k < nt; k++)
                {
                    bool within = d2 < thr2[k]; // false for NaN, as in numpy
                    if (within && gtVisible)
                    {
                        withinVisible[k]++;
                        if (predVisible) truePos[k]++;
                    }
                    if (predVisible && (!gtVisible || !within)) falsePos[k]++;
                }
            }
        }

        var pts = new double[nt];
        var jac = new double[nt];
        double sumPts = 0, sumJac = 0;
        for (int k = 0; k < nt; k++)
        {
            pts[k] = withinVisible[k] / (double)visibleCount;
            jac[k] = truePos[k] / (double)(visibleCount + falsePos[k]);
            sumPts += pts[k];
            sumJac += jac[k];
        }
        return new TapVidMetricValues
        {
            OcclusionAccuracy = occCorrect / (double)evaluated,
            PtsWithin = pts,
            Jaccard = jac,
            AveragePtsWithinThresh = sumPts / nt,
            AverageJaccard = sumJac / nt,
            NumPoints = numPoints,
            EvaluatedPairs = evaluated,
            VisiblePairs = visibleCount,
        };
    }

    /// <summary>
    /// The benchmark aggregate: each metric averaged over videos with equal weight per video (the reference's
    /// "simple mean of the metrics across the full set of videos"), not pooled over points. A NaN in any video
    /// makes that metric's mean NaN, as <c>np.mean</c> does. Counts are summed.
    /// </summary>
    public static TapVidMetricValues Mean(IReadOnlyList<TapVidMetricValues> perVideo)
    {
        ArgumentNullException.ThrowIfNull(perVideo);
        if (perVideo.Count == 0) throw new ArgumentException("no videos to average", nameof(perVideo));
        int nt = Thresholds.Count;
        int n = perVideo.Count;
        double Avg(Func<TapVidMetricValues, double> f)
        {
            double s = 0;
            foreach (TapVidMetricValues v in perVideo) s += f(v);
            return s / n;
        }
        var pts = new double[nt];
        var jac = new double[nt];
        for (int k = 0; k < nt; k++)
        {
            int kk = k;
            pts[k] = Avg(v => v.PtsWithin[kk]);
            jac[k] = Avg(v => v.Jaccard[kk]);
        }
        return new TapVidMetricValues
        {
            OcclusionAccuracy = Avg(v => v.OcclusionAccuracy),
            PtsWithin = pts,
            Jaccard = jac,
            AveragePtsWithinThresh = Avg(v => v.AveragePtsWithinThresh),
            AverageJaccard = Avg(v => v.AverageJaccard),
            NumPoints = perVideo.Sum(v => v.NumPoints),
            EvaluatedPairs = perVideo.Sum(v => v.EvaluatedPairs),
            VisiblePairs = perVideo.Sum(v => v.VisiblePairs),
        };
    }
}
