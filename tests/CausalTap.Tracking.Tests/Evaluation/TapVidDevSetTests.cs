using System.Text.Json;
using CausalTap.Tracking.Evaluation;
using Xunit.Abstractions;

namespace CausalTap.Tracking.Tests.Evaluation;

/// <summary>Real TAP-Vid-DAVIS files from the shared dev split (skipped when the data is not on this machine).</summary>
public class TapVidDevSetTests(ITestOutputHelper output)
{
    private static string Dir => TestPaths.DavisDevDir!;

    [DavisDevFact]
    public void ReadsRealFilesWithExpectedShapesAndDtypes()
    {
        foreach (string path in TapVidExample.ListDataset(Dir))
        {
            using (var npz = new NpzReader(path))
            {
                foreach (string key in new[] { "video", "query_points", "target_points", "occluded" }) Assert.Contains(key, npz.Keys);
                Assert.Equal(NpyElementKind.UInt8, npz.ReadHeader("video").DType.Kind);
                Assert.Equal(NpyElementKind.Float32, npz.ReadHeader("query_points").DType.Kind);
                Assert.Equal(NpyElementKind.Float32, npz.ReadHeader("target_points").DType.Kind);
                Assert.Equal(NpyElementKind.Bool, npz.ReadHeader("occluded").DType.Kind);
                Assert.Equal(NpyElementKind.Int32, npz.ReadHeader("track_id").DType.Kind);
                Assert.Equal("first", npz.Read("query_mode").GetString());
            }
            TapVidExample ex = TapVidExample.Load(path, requireGroundTruth: true);
            Assert.Equal([32, 256, 256, 3], ex.Video.Shape);
            Assert.Equal(TapVidQueryMode.First, ex.QueryMode);
            Assert.InRange(ex.NumPoints, 1, 1000);
            Assert.Equal(ex.NumPoints * 32 * 2, ex.TargetPoints!.Length);
            // query_first: every query lies on its track's first visible frame, at the annotated position.
            for (int i = 0; i < ex.NumPoints; i++)
            {
                int q = ex.QueryFrames[i];
                Assert.False(ex.Occluded![i * 32 + q]);
                for (int f = 0; f < q; f++) Assert.True(ex.Occluded[i * 32 + f]);
                Assert.Equal(ex.QueryPoints[3 * i + 2], ex.TargetPoints[(i * 32 + q) * 2], 3);
                Assert.Equal(ex.QueryPoints[3 * i + 1], ex.TargetPoints[(i * 32 + q) * 2 + 1], 3);
            }
            Assert.Contains(ex.Video.UInt8, b => b > 0);
        }
    }

    private static TapVidEvaluation ZeroMotionEvaluation()
    {
        var results = new List<TapVidVideoResult>();
        foreach (string path in TapVidExample.ListDataset(Dir))
        {
            TapVidExample ex = TapVidExample.Load(path, requireGroundTruth: true);
            results.Add(new TapVidVideoResult(ex.Name, ex.NumFrames,
                TapVidMetrics.Compute(ex, TapVidPrediction.ZeroMotion(ex), TapVidQueryMode.First)));
        }
        return new TapVidEvaluation(results, TapVidQueryMode.First, TapVidResolution.Default, model: "zero-motion", dataset: "tapvid_davis32_dev");
    }

    [DavisDevFact]
    public void ZeroMotionBaselineOnDevSet()
    {
        TapVidEvaluation eval = ZeroMotionEvaluation();
        output.WriteLine(TapVidReport.FormatTable(eval));
        output.WriteLine("Dataset README quotes zero motion at AJ 15.3, δ_avg 24.7, OA 86.9 (x100).");
        TapVidMetricValues m = eval.Mean;
        // Sanity only: a static predictor is poor but not zero, and never-occluded gives OA = visible share.
        Assert.InRange(m.AverageJaccard, 0.01, 0.6);
        Assert.InRange(m.AveragePtsWithinThresh, 0.01, 0.8);
        Assert.InRange(m.OcclusionAccuracy, 0.3, 1.0);
        Assert.True(m.AverageJaccard <= m.AveragePtsWithinThresh);
        for (int k = 1; k < 5; k++) Assert.True(m.PtsWithin[k] >= m.PtsWithin[k - 1]);
    }

    [DavisDevFact(NeedsPython = true)]
    public void ZeroMotionBaselineMatchesNumpyOnDevSet()
    {
        // numpy reads the original files itself (independent of our reader) and scores the same baseline.
        TapVidEvaluation eval = ZeroMotionEvaluation();
        using var dir = new TempDir();
        string json = dir.File("zm.json");
        PythonRunner.Run([TestPaths.ReferenceScript, "zero_motion", Dir, json, "first"]);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement videos = doc.RootElement.GetProperty("videos");
        Assert.Equal(eval.Videos.Count, videos.GetArrayLength());
        for (int v = 0; v < eval.Videos.Count; v++)
        {
            Assert.Equal(eval.Videos[v].Name, videos[v].GetProperty("name").GetString());
            foreach ((string key, double value) in eval.Videos[v].Metrics.Named())
                Assert.True(Math.Abs(value - videos[v].GetProperty(key).GetDouble()) <= 1e-9, $"{eval.Videos[v].Name} {key}");
        }
        foreach ((string key, double value) in eval.Mean.Named())
            Assert.True(Math.Abs(value - doc.RootElement.GetProperty("mean").GetProperty(key).GetDouble()) <= 1e-9, $"mean {key}");
        output.WriteLine($"C# and numpy agree on all {eval.Videos.Count} videos: AJ {100 * eval.Mean.AverageJaccard:F2}");
    }
}
