using CausalTap.Tracking.Evaluation;

namespace CausalTap.Tracking.Tests.Evaluation;

/// <summary>Hand-computed TAP-Vid metric cases.</summary>
public class TapVidMetricsTests
{
    private const double Eps = 1e-12;

    /// <summary>A small video's worth of ground truth and predictions built point by point.</summary>
    private sealed class Case(int n, int t, int height = 256, int width = 256)
    {
        public readonly float[] Query = new float[n * 3];
        public readonly float[] Gt = new float[n * t * 2];
        public readonly bool[] GtOcc = new bool[n * t];
        public readonly float[] Pred = new float[n * t * 2];
        public readonly bool[] PredOcc = new bool[n * t];

        public void SetQuery(int i, float frame, float x, float y) => (Query[3 * i], Query[3 * i + 1], Query[3 * i + 2]) = (frame, y, x);

        public void SetGt(int i, int f, float x, float y, bool occluded = false)
        {
            Gt[2 * (i * t + f)] = x;
            Gt[2 * (i * t + f) + 1] = y;
            GtOcc[i * t + f] = occluded;
        }

        public void SetPred(int i, int f, float x, float y, bool occluded = false)
        {
            Pred[2 * (i * t + f)] = x;
            Pred[2 * (i * t + f) + 1] = y;
            PredOcc[i * t + f] = occluded;
        }

        public TapVidMetricValues Compute(TapVidQueryMode mode, TapVidResolution? res = null) =>
            TapVidMetrics.Compute(Query, Gt, GtOcc, Pred, PredOcc, n, t, mode, height, width, res ?? TapVidResolution.Default);
    }

    /// <summary>Random-looking ground truth with some occlusion; every point queried at a visible frame.</summary>
    private static Case GroundTruth(int n, int t, int seed, int height = 256, int width = 256)
    {
        var c = new Case(n, t, height, width);
        var rng = new Random(seed);
        for (int i = 0; i < n; i++)
        {
            int q = rng.Next(t - 1);
            for (int f = 0; f < t; f++)
            {
                float x = (float)(rng.NextDouble() * width), y = (float)(rng.NextDouble() * height);
                bool occ = f != q && rng.NextDouble() < 0.25;
                c.SetGt(i, f, x, y, occ);
                if (f == q) c.SetQuery(i, q, x, y);
            }
        }
        return c;
    }

    private static void AssertAll(IReadOnlyList<double> values, double expected)
    {
        foreach (double v in values) Assert.Equal(expected, v, Eps);
    }

    [Theory]
    [InlineData(TapVidQueryMode.First)]
    [InlineData(TapVidQueryMode.Strided)]
    public void PerfectTracksScoreOneHundred(TapVidQueryMode mode)
    {
        Case c = GroundTruth(7, 12, seed: 3);
        c.Gt.CopyTo(c.Pred, 0);
        c.GtOcc.CopyTo(c.PredOcc, 0);
        TapVidMetricValues m = c.Compute(mode);
        Assert.Equal(1.0, m.AverageJaccard, Eps);
        Assert.Equal(1.0, m.AveragePtsWithinThresh, Eps);
        Assert.Equal(1.0, m.OcclusionAccuracy, Eps);
        AssertAll(m.Jaccard, 1.0);
        AssertAll(m.PtsWithin, 1.0);
    }

    [Fact]
    public void AllPredictedOccluded()
    {
        // Positions perfect but every point predicted occluded: no true positives (AJ = 0), δ ignores the
        // occlusion prediction (δ = 1), OA = share of evaluated ground truth that really is occluded.
        Case c = GroundTruth(5, 10, seed: 11);
        c.Gt.CopyTo(c.Pred, 0);
        Array.Fill(c.PredOcc, true);
        TapVidMetricValues m = c.Compute(TapVidQueryMode.Strided);
        long occludedEvaluated = 0;
        for (int i = 0; i < 5; i++)
            for (int f = 0; f < 10; f++)
                if (f != (int)c.Query[3 * i] && c.GtOcc[i * 10 + f]) occludedEvaluated++;
        Assert.Equal(5 * 9, m.EvaluatedPairs);
        Assert.Equal(occludedEvaluated / 45.0, m.OcclusionAccuracy, Eps);
        Assert.Equal(45 - occludedEvaluated, m.VisiblePairs);
        AssertAll(m.Jaccard, 0.0);
        Assert.Equal(0.0, m.AverageJaccard, Eps);
        AssertAll(m.PtsWithin, 1.0);
    }

    [Theory]
    // offset (dx, dy) -> which of δ = 1,2,4,8,16 hold; "within" is strict (distance² < δ²).
    [InlineData(3f, 0f, new[] { 0, 0, 1, 1, 1 }, 0.6)]
    [InlineData(0f, -3f, new[] { 0, 0, 1, 1, 1 }, 0.6)]
    [InlineData(3f, 4f, new[] { 0, 0, 0, 1, 1 }, 0.4)] // distance 5
    [InlineData(2f, 0f, new[] { 0, 0, 1, 1, 1 }, 0.6)] // exactly 2 px is not within 2
    [InlineData(0.5f, 0.5f, new[] { 1, 1, 1, 1, 1 }, 1.0)]
    [InlineData(20f, 0f, new[] { 0, 0, 0, 0, 0 }, 0.0)]
    [InlineData(0f, 15.5f, new[] { 0, 0, 0, 0, 1 }, 0.2)]
    [InlineData(0f, 16f, new[] { 0, 0, 0, 0, 0 }, 0.0)] // exactly 16 px is not within 16
    public void ConstantOffsetGivesKnownDelta(float dx, float dy, int[] within, double deltaAvg)
    {
        // Every point visible everywhere and predicted visible, displaced by (dx, dy) on every frame.
        const int n = 4, t = 9;
        var c = new Case(n, t);
        for (int i = 0; i < n; i++)
        {
            c.SetQuery(i, i, 100 + i, 50 + 2 * i);
            for (int f = 0; f < t; f++)
            {
                c.SetGt(i, f, 100 + i + f, 50 + 2 * i - f);
                c.SetPred(i, f, 100 + i + f + dx, 50 + 2 * i - f + dy);
            }
        }
        foreach (TapVidQueryMode mode in new[] { TapVidQueryMode.First, TapVidQueryMode.Strided })
        {
            TapVidMetricValues m = c.Compute(mode);
            for (int k = 0; k < 5; k++)
            {
                Assert.Equal(within[k], m.PtsWithin[k], Eps);
                // All predicted visible, all visible: TP = within, FP = not within, FN = not within
                // -> J = V/(V+0) = 1 when within, 0/(V+V) = 0 when not.
                Assert.Equal(within[k], m.Jaccard[k], Eps);
            }
            Assert.Equal(deltaAvg, m.AveragePtsWithinThresh, Eps);
            Assert.Equal(deltaAvg, m.AverageJaccard, Eps);
            Assert.Equal(1.0, m.OcclusionAccuracy, Eps);
        }
    }

    [Fact]
    public void HandComputedJaccard()
    {
        // One point, T = 5, query_first at frame 0: frames 1..4 are evaluated.
        //   frame 0 (query, not evaluated): prediction wildly wrong and occluded - must not count.
        //   frame 1: gt visible, pred visible, error 0.5 px  -> TP at every δ.
        //   frame 2: gt visible, pred visible, error 3 px    -> δ=1,2: FP and FN; δ=4,8,16: TP.
        //   frame 3: gt occluded, pred visible                -> FP at every δ.
        //   frame 4: gt visible, pred occluded, error 0       -> FN at every δ (but within for pts_within).
        // gt visible on evaluated frames = 3 (frames 1, 2, 4).
        // δ=1,2: TP=1, FP=2 (frames 2, 3), FN=2 (frames 2, 4) -> J = 1/(1+2+2) = 0.2; pts = 2/3 (frames 1, 4).
        // δ=4,8,16: TP=2, FP=1, FN=1 -> J = 2/4 = 0.5; pts = 3/3.
        // AJ = (0.2+0.2+0.5+0.5+0.5)/5 = 0.38; δ_avg = (2/3+2/3+1+1+1)/5 = 13/15; OA = 2/4 (frames 1, 2 right).
        var c = new Case(1, 5);
        c.SetQuery(0, 0, 10, 10);
        c.SetGt(0, 0, 10, 10);
        c.SetPred(0, 0, 200, 200, occluded: true);
        c.SetGt(0, 1, 11, 10);
        c.SetPred(0, 1, 11.5f, 10);
        c.SetGt(0, 2, 12, 10);
        c.SetPred(0, 2, 12, 13);
        c.SetGt(0, 3, 0, 0, occluded: true);
        c.SetPred(0, 3, 13, 10);
        c.SetGt(0, 4, 14, 10);
        c.SetPred(0, 4, 14, 10, occluded: true);
        TapVidMetricValues m = c.Compute(TapVidQueryMode.First);
        Assert.Equal([0.2, 0.2, 0.5, 0.5, 0.5], m.Jaccard.Select(v => Math.Round(v, 12)));
        Assert.Equal(2.0 / 3, m.PtsWithin[0], Eps);
        Assert.Equal(2.0 / 3, m.PtsWithin[1], Eps);
        Assert.Equal(1.0, m.PtsWithin[2], Eps);
        Assert.Equal(0.38, m.AverageJaccard, Eps);
        Assert.Equal(13.0 / 15, m.AveragePtsWithinThresh, Eps);
        Assert.Equal(0.5, m.OcclusionAccuracy, Eps);
        Assert.Equal(4, m.EvaluatedPairs);
        Assert.Equal(3, m.VisiblePairs);
    }

    [Fact]
    public void FirstAndStridedMasksDiffer()
    {
        // One point queried at frame 2 of 5. Frames 0 and 1 (before the query) are wrong, frames 3 and 4 right.
        // first evaluates {3, 4} -> perfect; strided evaluates {0, 1, 3, 4} -> half; frame 2 is never evaluated.
        var c = new Case(1, 5);
        c.SetQuery(0, 2, 50, 50);
        for (int f = 0; f < 5; f++)
        {
            c.SetGt(0, f, 50, 50);
            c.SetPred(0, f, f < 2 ? 90 : 50, 50, occluded: f < 2);
        }
        c.SetPred(0, 2, 0, 0, occluded: true); // query frame: wrong, but excluded in both modes

        TapVidMetricValues first = c.Compute(TapVidQueryMode.First);
        Assert.Equal(2, first.EvaluatedPairs);
        Assert.Equal(1.0, first.AverageJaccard, Eps);
        Assert.Equal(1.0, first.OcclusionAccuracy, Eps);
        Assert.Equal(1.0, first.AveragePtsWithinThresh, Eps);

        TapVidMetricValues strided = c.Compute(TapVidQueryMode.Strided);
        Assert.Equal(4, strided.EvaluatedPairs);
        Assert.Equal(0.5, strided.OcclusionAccuracy, Eps);
        Assert.Equal(0.5, strided.AveragePtsWithinThresh, Eps);
        Assert.Equal(0.5, strided.AverageJaccard, Eps); // TP 2, FN 2, FP 0

        Assert.False(TapVidMetrics.IsEvaluated(TapVidQueryMode.First, 2, 2));
        Assert.False(TapVidMetrics.IsEvaluated(TapVidQueryMode.First, 2, 1));
        Assert.True(TapVidMetrics.IsEvaluated(TapVidQueryMode.First, 2, 3));
        Assert.False(TapVidMetrics.IsEvaluated(TapVidQueryMode.Strided, 2, 2));
        Assert.True(TapVidMetrics.IsEvaluated(TapVidQueryMode.Strided, 2, 0));
    }

    [Fact]
    public void FractionalQueryTimeRoundsHalfToEven()
    {
        // t = 2.5 rounds to 2 (as np.round): frame 3 is evaluated in first mode, frame 2 is not.
        var c = new Case(1, 5);
        c.SetQuery(0, 2.5f, 50, 50);
        for (int f = 0; f < 5; f++) c.SetGt(0, f, 50, 50);
        Assert.Equal(2, c.Compute(TapVidQueryMode.First).EvaluatedPairs);
        c.Query[0] = 3.5f; // -> 4
        Assert.Equal(0, c.Compute(TapVidQueryMode.First).EvaluatedPairs);
        Assert.Equal(4, c.Compute(TapVidQueryMode.Strided).EvaluatedPairs);
        c.Query[0] = 4.6f; // -> 5: out of range
        Assert.Throws<ArgumentException>(() => c.Compute(TapVidQueryMode.First));
    }

    [Fact]
    public void ThresholdsAreMeasuredAt256ByDefault()
    {
        // A 512x1024 (HxW) video: an offset of (6, 3) px there is (1.5, 1.5) px at 256x256 -> distance 2.12.
        var c = new Case(1, 3, height: 512, width: 1024);
        c.SetQuery(0, 0, 100, 100);
        for (int f = 0; f < 3; f++)
        {
            c.SetGt(0, f, 100, 100);
            c.SetPred(0, f, 106, 103);
        }
        TapVidMetricValues at256 = c.Compute(TapVidQueryMode.First);
        Assert.Equal([0.0, 0.0, 1.0, 1.0, 1.0], at256.PtsWithin);
        TapVidMetricValues native = c.Compute(TapVidQueryMode.First, TapVidResolution.Native); // distance 6.7
        Assert.Equal([0.0, 0.0, 0.0, 1.0, 1.0], native.PtsWithin);
        TapVidMetricValues at1024 = c.Compute(TapVidQueryMode.First, new TapVidResolution(1024, 2048)); // distance 13.4
        Assert.Equal([0.0, 0.0, 0.0, 0.0, 1.0], at1024.PtsWithin);
        Assert.Equal(new TapVidResolution(96, 128), TapVidResolution.Parse("128x96"));
        Assert.True(TapVidResolution.Parse("native").IsNative);
        Assert.Throws<ArgumentException>(() => TapVidResolution.Parse("big"));
    }

    [Fact]
    public void MeanIsOverVideosNotPooledOverPoints()
    {
        // Video A: 1 point, perfect (AJ 1). Video B: 10 points, 3 px off (AJ 0.6). Mean over videos = 0.8,
        // whereas pooling all points would give about 0.64.
        var a = new Case(1, 4);
        a.SetQuery(0, 0, 10, 10);
        for (int f = 0; f < 4; f++)
        {
            a.SetGt(0, f, 10, 10);
            a.SetPred(0, f, 10, 10);
        }
        var b = new Case(10, 4);
        for (int i = 0; i < 10; i++)
        {
            b.SetQuery(i, 0, 20, 20);
            for (int f = 0; f < 4; f++)
            {
                b.SetGt(i, f, 20, 20);
                b.SetPred(i, f, 23, 20);
            }
        }
        TapVidMetricValues ma = a.Compute(TapVidQueryMode.First), mb = b.Compute(TapVidQueryMode.First);
        TapVidMetricValues mean = TapVidMetrics.Mean([ma, mb]);
        Assert.Equal(0.8, mean.AverageJaccard, Eps);
        Assert.Equal(0.8, mean.AveragePtsWithinThresh, Eps);
        Assert.Equal(1.0, mean.OcclusionAccuracy, Eps);
        Assert.Equal(0.5, mean.PtsWithin[0], Eps);
        Assert.Equal(1.0, mean.Jaccard[4], Eps);
        Assert.Equal(11, mean.NumPoints);
        Assert.Equal(33, mean.EvaluatedPairs);
        Assert.Throws<ArgumentException>(() => TapVidMetrics.Mean([]));
    }

    [Fact]
    public void NoVisibleGroundTruthGivesNaNLikeNumpy()
    {
        // Every evaluated frame occluded in the ground truth: pts_within is 0/0 (NaN); predicting visible gives
        // J = 0/(0+FP) = 0; OA still defined.
        var c = new Case(1, 3);
        c.SetQuery(0, 0, 5, 5);
        c.SetGt(0, 1, 0, 0, occluded: true);
        c.SetGt(0, 2, 0, 0, occluded: true);
        TapVidMetricValues m = c.Compute(TapVidQueryMode.First);
        Assert.All(m.PtsWithin, v => Assert.True(double.IsNaN(v)));
        AssertAll(m.Jaccard, 0.0);
        Assert.Equal(0.0, m.OcclusionAccuracy, Eps);
        Assert.True(double.IsNaN(TapVidMetrics.Mean([m, m]).AveragePtsWithinThresh));
    }

    [Fact]
    public void NaNPredictionOnVisibleFrameIsAMiss()
    {
        var c = new Case(1, 3);
        c.SetQuery(0, 0, 5, 5);
        for (int f = 0; f < 3; f++) c.SetGt(0, f, 5, 5);
        c.SetPred(0, 1, float.NaN, 5);
        c.SetPred(0, 2, 5, 5);
        TapVidMetricValues m = c.Compute(TapVidQueryMode.First);
        AssertAll(m.PtsWithin, 0.5);
        AssertAll(m.Jaccard, 1.0 / 3); // TP 1, FP 1, FN 1
    }

    [Fact]
    public void ExampleOverloadChecksShapesAndMode()
    {
        var video = NpyArray.Zeros(NpyDType.UInt8, 3, 4, 4, 3);
        var ex = new TapVidExample(video, [0, 1, 1], new float[6], new bool[3], queryMode: null, name: "v");
        var pred = TapVidPrediction.CreateEmpty(1, 3);
        Assert.Throws<ArgumentException>(() => TapVidMetrics.Compute(ex, pred));
        Assert.Equal(2, TapVidMetrics.Compute(ex, pred, TapVidQueryMode.First).EvaluatedPairs);
        Assert.Throws<TapVidDataException>(() => TapVidMetrics.Compute(ex, TapVidPrediction.CreateEmpty(2, 3), TapVidQueryMode.First));
        var noGt = new TapVidExample(video, [0, 1, 1], null, null, TapVidQueryMode.First);
        Assert.Throws<TapVidDataException>(() => TapVidMetrics.Compute(noGt, pred));
    }
}
