using System.Text.Json;
using CausalTap.Tracking.Evaluation;

namespace CausalTap.Tracking.Tests.Evaluation;

public class TapVidReportTests
{
    private static TapVidMetricValues Values(double aj, double pts = 0.5, double oa = 0.9) => new()
    {
        OcclusionAccuracy = oa,
        PtsWithin = [pts, pts, pts, pts, pts],
        Jaccard = [aj, aj, aj, aj, aj],
        AveragePtsWithinThresh = pts,
        AverageJaccard = aj,
        NumPoints = 3,
        EvaluatedPairs = 30,
        VisiblePairs = 20,
    };

    private static TapVidEvaluation Sample(bool timed = false) => new(
        [
            new TapVidVideoResult("davis32_00", 32, Values(0.25), timed ? 2.0 : null),
            new TapVidVideoResult("davis32_01", 32, Values(0.75, pts: double.NaN), timed ? 4.0 : null),
        ],
        TapVidQueryMode.First, TapVidResolution.Default, model: "lk");

    [Fact]
    public void TableHasOneRowPerVideoAndTheMean()
    {
        string table = TapVidReport.FormatTable(Sample());
        string[] lines = table.TrimEnd('\n').Split('\n');
        Assert.Contains("query mode first", lines[0]);
        Assert.Contains("256x256", lines[0]);
        Assert.Contains("model lk", lines[0]);
        Assert.Matches(@"^video\s+N\s+T\s+AJ\s+<d_avg\s+OA\s+J@1\s+J@2\s+J@4\s+J@8\s+J@16\s+<d1\s+<d2\s+<d4\s+<d8\s+<d16$", lines[1]);
        Assert.StartsWith("davis32_00", lines[3]);
        Assert.Contains(" 25.0 ", lines[3]);
        Assert.Contains(" 90.0 ", lines[3]);
        Assert.Contains("nan", lines[4]);
        Assert.StartsWith("mean (2 videos)", lines[^1]);
        Assert.Contains(" 50.0 ", lines[^1]); // (25 + 75) / 2
        Assert.Contains(" 64 ", lines[^1]); // total frames
        Assert.DoesNotContain("ms/frame", table);
        Assert.All(lines.Skip(1).Where(l => !l.StartsWith('-')), l => Assert.Equal(lines[1].Length, l.Length));
    }

    [Fact]
    public void TableShowsTimingWhenMeasured()
    {
        TapVidEvaluation e = Sample(timed: true);
        Assert.Equal(3.0, e.MeanMillisecondsPerFrame);
        string table = TapVidReport.FormatTable(e);
        Assert.Contains("ms/frame", table);
        Assert.Contains("3.00", table);
    }

    [Fact]
    public void JsonUsesReferenceKeysFractionsAndNullForNaN()
    {
        using JsonDocument doc = JsonDocument.Parse(TapVidReport.ToJson(Sample()));
        JsonElement root = doc.RootElement;
        Assert.Equal("first", root.GetProperty("query_mode").GetString());
        Assert.Equal([256, 256], root.GetProperty("resolution").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal("lk", root.GetProperty("model").GetString());
        Assert.Equal(2, root.GetProperty("num_videos").GetInt32());
        JsonElement mean = root.GetProperty("mean");
        Assert.Equal(0.5, mean.GetProperty("average_jaccard").GetDouble(), 12);
        Assert.Equal(0.9, mean.GetProperty("occlusion_accuracy").GetDouble(), 12);
        Assert.Equal(JsonValueKind.Null, mean.GetProperty("average_pts_within_thresh").ValueKind);
        Assert.Equal(6, mean.GetProperty("num_points").GetInt32());
        JsonElement v0 = root.GetProperty("videos")[0];
        Assert.Equal("davis32_00", v0.GetProperty("name").GetString());
        foreach (string key in new[] { "jaccard_1", "jaccard_2", "jaccard_4", "jaccard_8", "jaccard_16",
                     "pts_within_1", "pts_within_2", "pts_within_4", "pts_within_8", "pts_within_16", "num_frames" })
            Assert.True(v0.TryGetProperty(key, out _), key);
        Assert.Equal(0.5, v0.GetProperty("pts_within_16").GetDouble());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("videos")[1].GetProperty("pts_within_1").ValueKind);
        Assert.False(v0.TryGetProperty("ms_per_frame", out _));
    }

    [Fact]
    public void QueryModeNamesParse()
    {
        Assert.Equal(TapVidQueryMode.First, TapVidQueryModes.Parse("first"));
        Assert.Equal(TapVidQueryMode.First, TapVidQueryModes.Parse("query_first"));
        Assert.Equal(TapVidQueryMode.Strided, TapVidQueryModes.Parse(" Strided "));
        Assert.Equal("strided", TapVidQueryMode.Strided.ToName());
        Assert.Contains("'sideways'", Assert.Throws<ArgumentException>(() => TapVidQueryModes.Parse("sideways")).Message);
    }
}
