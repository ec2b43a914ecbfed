using System.Text.Json;
using CausalTap.Tracking.Evaluation;
using Xunit.Abstractions;

namespace CausalTap.Tracking.Tests.Evaluation;

/// <summary>
/// The C# metrics against an independent numpy implementation written from the paper's definitions
/// (tapvid_metrics_reference.py) on random tracks and occlusions: every value must agree to 1e-9.
/// </summary>
public class TapVidMetricsCrossCheckTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-9;

    private sealed record RandomVideo(int N, int T, int H, int W, float[] Query, float[] Gt, bool[] GtOcc, float[] Pred, bool[] PredOcc);

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static RandomVideo MakeVideo(Random rng)
    {
        int n = rng.Next(1, 14), t = rng.Next(2, 25), h = rng.Next(64, 600), w = rng.Next(64, 600);
        var query = new float[n * 3];
        var gt = new float[n * t * 2];
        var gtOcc = new bool[n * t];
        var pred = new float[n * t * 2];
        var predOcc = new bool[n * t];
        double[] sigmas = [0.2, 0.8, 2, 5, 12, 40];
        double occRate = rng.NextDouble() * 0.6;
        for (int i = 0; i < n; i++)
        {
            int q = rng.Next(t);
            float qt = q;
            if (rng.NextDouble() < 0.25 && q < t - 1) qt = q + (rng.NextDouble() < 0.5 ? 0.5f : 0.3f); // rounding cases
            double sigma = sigmas[rng.Next(sigmas.Length)] * Math.Max(w, h) / 256.0;
            for (int f = 0; f < t; f++)
            {
                int k = i * t + f;
                float x = (float)(rng.NextDouble() * w), y = (float)(rng.NextDouble() * h);
                gtOcc[k] = rng.NextDouble() < occRate;
                gt[2 * k] = gtOcc[k] && rng.NextDouble() < 0.5 ? 0 : x;
                gt[2 * k + 1] = gtOcc[k] && rng.NextDouble() < 0.5 ? 0 : y;
                pred[2 * k] = (float)(x + sigma * Gaussian(rng));
                pred[2 * k + 1] = (float)(y + sigma * Gaussian(rng));
                if (rng.NextDouble() < 0.02) pred[2 * k] = float.NaN;
                predOcc[k] = rng.NextDouble() < 0.2 ? !gtOcc[k] : gtOcc[k];
                if (f == q) query[3 * i + 1] = y;
                if (f == q) query[3 * i + 2] = x;
            }
            query[3 * i] = qt;
        }
        return new RandomVideo(n, t, h, w, query, gt, gtOcc, pred, predOcc);
    }

    private static void AssertClose(double expected, JsonElement actualFromPython, string what)
    {
        if (actualFromPython.ValueKind == JsonValueKind.Null)
        {
            Assert.True(double.IsNaN(expected), $"{what}: python NaN, C# {expected}");
            return;
        }
        double py = actualFromPython.GetDouble();
        Assert.False(double.IsNaN(expected), $"{what}: C# NaN, python {py}");
        Assert.True(Math.Abs(expected - py) <= Tolerance, $"{what}: C# {expected:R} vs python {py:R}");
    }

    private static void AssertSame(TapVidMetricValues cs, JsonElement py, string what)
    {
        foreach ((string key, double value) in cs.Named()) AssertClose(value, py.GetProperty(key), $"{what} {key}");
        if (py.TryGetProperty("evaluated_pairs", out JsonElement ev)) Assert.Equal(cs.EvaluatedPairs, ev.GetInt64());
        if (py.TryGetProperty("visible_pairs", out JsonElement vis)) Assert.Equal(cs.VisiblePairs, vis.GetInt64());
    }

    [PythonNumpyTheory(NeedsReferenceScript = true)]
    [InlineData(1, "first", 0)]
    [InlineData(2, "strided", 0)]
    [InlineData(3, "first", 1)]
    [InlineData(4, "strided", 1)]
    [InlineData(5, "first", 2)]
    [InlineData(6, "strided", 2)]
    [InlineData(7, "first", 0)]
    [InlineData(8, "strided", 0)]
    public void AgreesWithIndependentNumpyImplementation(int seed, string modeName, int resolutionChoice)
    {
        TapVidQueryMode mode = TapVidQueryModes.Parse(modeName);
        TapVidResolution res = resolutionChoice switch
        {
            0 => TapVidResolution.Default,
            1 => TapVidResolution.Native,
            _ => new TapVidResolution(96, 128),
        };
        var rng = new Random(seed);
        int videos = rng.Next(1, 5);
        var arrays = new List<KeyValuePair<string, NpyArray>>
        {
            new("num_videos", NpyArray.Create(new long[] { videos })),
            new("query_mode", NpyArray.FromString(mode.ToName())),
            new("resolution", NpyArray.Create(new long[] { res.Height, res.Width }, 2)),
        };
        var csPerVideo = new List<TapVidMetricValues>();
        for (int v = 0; v < videos; v++)
        {
            RandomVideo rv = MakeVideo(rng);
            string p = $"v{v}_";
            arrays.Add(new(p + "query_points", NpyArray.Create(rv.Query, rv.N, 3)));
            arrays.Add(new(p + "gt_tracks", NpyArray.Create(rv.Gt, rv.N, rv.T, 2)));
            arrays.Add(new(p + "gt_occluded", NpyArray.Create(rv.GtOcc, rv.N, rv.T)));
            arrays.Add(new(p + "pred_tracks", NpyArray.Create(rv.Pred, rv.N, rv.T, 2)));
            arrays.Add(new(p + "pred_occluded", NpyArray.Create(rv.PredOcc, rv.N, rv.T)));
            arrays.Add(new(p + "hw", NpyArray.Create(new long[] { rv.H, rv.W }, 2)));
            csPerVideo.Add(TapVidMetrics.Compute(rv.Query, rv.Gt, rv.GtOcc, rv.Pred, rv.PredOcc, rv.N, rv.T, mode, rv.H, rv.W, res));
        }
        using var dir = new TempDir();
        string input = dir.File("in.npz"), result = dir.File("out.json");
        NpzWriter.Save(input, arrays, compressed: seed % 2 == 0);
        PythonRunner.Run([TestPaths.ReferenceScript, "metrics", input, result]);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(result));
        JsonElement pyVideos = doc.RootElement.GetProperty("videos");
        Assert.Equal(videos, pyVideos.GetArrayLength());
        for (int v = 0; v < videos; v++) AssertSame(csPerVideo[v], pyVideos[v], $"seed {seed} video {v}");
        TapVidMetricValues mean = TapVidMetrics.Mean(csPerVideo);
        AssertSame(mean, doc.RootElement.GetProperty("mean"), $"seed {seed} mean");
        output.WriteLine($"seed {seed} ({mode.ToName()}, {res}): {videos} videos, AJ {mean.AverageJaccard:F6}, " +
                         $"δavg {mean.AveragePtsWithinThresh:F6}, OA {mean.OcclusionAccuracy:F6} — matches numpy");
    }
}
