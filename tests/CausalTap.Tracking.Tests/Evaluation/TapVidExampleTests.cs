using CausalTap.Tracking.Evaluation;

namespace CausalTap.Tracking.Tests.Evaluation;

public class TapVidExampleTests
{
    private const int T = 4, H = 6, W = 8, N = 2;

    private static Dictionary<string, NpyArray> ValidArrays()
    {
        var video = new byte[T * H * W * 3];
        for (int i = 0; i < video.Length; i++) video[i] = (byte)i;
        var target = new float[N * T * 2];
        for (int i = 0; i < target.Length; i++) target[i] = i * 0.5f;
        var occ = new bool[N * T];
        occ[3] = true;
        return new Dictionary<string, NpyArray>
        {
            ["video"] = NpyArray.Create(video, T, H, W, 3),
            ["query_points"] = NpyArray.Create(new float[] { 0, 1.5f, 2.5f, 2.4f, 3, 4 }, N, 3),
            ["target_points"] = NpyArray.Create(target, N, T, 2),
            ["occluded"] = NpyArray.Create(occ, N, T),
            ["query_mode"] = NpyArray.FromString("first"),
            ["track_id"] = NpyArray.Create(new int[] { 7, 9 }, N),
        };
    }

    private static string Write(TempDir dir, Dictionary<string, NpyArray> arrays, string name = "ex.npz")
    {
        string path = dir.File(name);
        NpzWriter.Save(path, arrays);
        return path;
    }

    private static TapVidDataException LoadFails(Dictionary<string, NpyArray> arrays, bool requireGroundTruth = false)
    {
        using var dir = new TempDir();
        string path = Write(dir, arrays);
        var e = Assert.Throws<TapVidDataException>(() => TapVidExample.Load(path, requireGroundTruth));
        Assert.Contains(path, e.Message);
        return e;
    }

    [Fact]
    public void LoadsValidExample()
    {
        using var dir = new TempDir();
        string path = Write(dir, ValidArrays(), "davis32_07.npz");
        TapVidExample ex = TapVidExample.Load(path, requireGroundTruth: true);
        Assert.Equal("davis32_07", ex.Name);
        Assert.Equal((T, H, W, N), (ex.NumFrames, ex.Height, ex.Width, ex.NumPoints));
        Assert.Equal(TapVidQueryMode.First, ex.QueryMode);
        Assert.True(ex.HasGroundTruth);
        Assert.Equal([0, 2], ex.QueryFrames); // 2.4 rounds to 2
        Assert.Equal((2.5f, 1.5f), ex.QueryPosition(0));
        Assert.Equal((byte)(H * W * 3), ex.Frame(1)[0]);
        Assert.Equal(H * W * 3, ex.Frame(3).Length);
        Assert.True(ex.Occluded![3]);
        Assert.Equal(3.5f, ex.TargetPoints![7]);
    }

    [Fact]
    public void LoadsWithoutGroundTruthAndQueryMode()
    {
        var arrays = ValidArrays();
        arrays.Remove("target_points");
        arrays.Remove("occluded");
        arrays.Remove("query_mode");
        using var dir = new TempDir();
        TapVidExample ex = TapVidExample.Load(Write(dir, arrays));
        Assert.False(ex.HasGroundTruth);
        Assert.Null(ex.QueryMode);
        var e = LoadFails(arrays, requireGroundTruth: true);
        Assert.Contains("ground truth missing", e.Message);
    }

    [Fact]
    public void AcceptsFloat64Coordinates()
    {
        var arrays = ValidArrays();
        arrays["query_points"] = NpyArray.Create(new double[] { 0, 1.5, 2.5, 2, 3, 4 }, N, 3);
        using var dir = new TempDir();
        TapVidExample ex = TapVidExample.Load(Write(dir, arrays));
        Assert.Equal([0f, 1.5f, 2.5f, 2, 3, 4], ex.QueryPoints);
    }

    [Theory]
    [InlineData("video")]
    [InlineData("query_points")]
    public void MissingKeyIsNamed(string key)
    {
        var arrays = ValidArrays();
        arrays.Remove(key);
        var e = LoadFails(arrays);
        Assert.Contains($"missing array '{key}'", e.Message);
    }

    [Fact]
    public void OnlyOneGroundTruthArrayIsAnError()
    {
        var arrays = ValidArrays();
        arrays.Remove("occluded");
        Assert.Contains("both", LoadFails(arrays).Message);
    }

    [Fact]
    public void WrongDtypesAreNamed()
    {
        var a = ValidArrays();
        a["query_points"] = NpyArray.Create(new int[6], N, 3);
        Assert.Contains("'query_points' must be float32, got dtype int32", LoadFails(a).Message);

        a = ValidArrays();
        a["video"] = NpyArray.Create(new float[T * H * W * 3], T, H, W, 3);
        Assert.Contains("'video' must be uint8", LoadFails(a).Message);

        a = ValidArrays();
        a["occluded"] = NpyArray.Create(new byte[N * T], N, T);
        Assert.Contains("'occluded' must be bool", LoadFails(a).Message);

        a = ValidArrays();
        a["query_mode"] = NpyArray.Create(new int[] { 1 });
        Assert.Contains("'query_mode' must be a string", LoadFails(a).Message);

        a = ValidArrays();
        a["query_mode"] = NpyArray.FromString("sideways");
        Assert.Contains("'sideways'", LoadFails(a).Message);
    }

    [Fact]
    public void WrongShapesAreNamed()
    {
        var a = ValidArrays();
        a["video"] = NpyArray.Create(new byte[T * H * W], T, H, W, 1);
        Assert.Contains("'video' must have shape [T,H,W,3], got (4, 6, 8, 1)", LoadFails(a).Message);

        a = ValidArrays();
        a["query_points"] = NpyArray.Create(new float[4], N, 2);
        Assert.Contains("'query_points' must have shape [N,3]", LoadFails(a).Message);

        a = ValidArrays();
        a["target_points"] = NpyArray.Create(new float[N * (T - 1) * 2], N, T - 1, 2);
        Assert.Contains("'target_points' must have shape [N,T,2] = (2, 4, 2)", LoadFails(a).Message);

        a = ValidArrays();
        a["occluded"] = NpyArray.Create(new bool[T * N], T, N);
        Assert.Contains("'occluded' must have shape [N,T] = (2, 4), got (4, 2)", LoadFails(a).Message);
    }

    [Theory]
    [InlineData(4f)] // T = 4: frames 0..3
    [InlineData(3.5f)] // rounds half to even: 4
    [InlineData(-0.6f)]
    [InlineData(float.NaN)]
    public void QueryFrameOutOfRangeIsAnError(float t)
    {
        var a = ValidArrays();
        a["query_points"] = NpyArray.Create(new float[] { 0, 1, 1, t, 1, 1 }, N, 3);
        var e = LoadFails(a);
        Assert.Contains("query point 1", e.Message);
    }

    [Theory]
    [InlineData(2.5f, 2)]
    [InlineData(-0.5f, 0)]
    [InlineData(0.5f, 0)]
    [InlineData(1.5f, 2)]
    [InlineData(3.4f, 3)]
    public void QueryFrameRoundsHalfToEvenLikeNumpy(float t, int frame)
    {
        var a = ValidArrays();
        a["query_points"] = NpyArray.Create(new float[] { 0, 1, 1, t, 1, 1 }, N, 3);
        using var dir = new TempDir();
        Assert.Equal(frame, TapVidExample.Load(Write(dir, a)).QueryFrames[1]);
    }

    [Fact]
    public void VisibleNonFiniteTargetIsAnErrorButOccludedIsNot()
    {
        var a = ValidArrays();
        float[] target = a["target_points"].Float32;
        target[3 * 2] = float.NaN; // point 0, frame 3: occluded -> fine
        using (var dir = new TempDir()) TapVidExample.Load(Write(dir, a));
        target[1 * 2 + 1] = float.PositiveInfinity; // point 0, frame 1: visible
        Assert.Contains("point 0 at frame 1", LoadFails(a).Message);
    }

    [Fact]
    public void SaveRoundTrips()
    {
        using var dir = new TempDir();
        TapVidExample ex = TapVidExample.Load(Write(dir, ValidArrays()));
        string copy = dir.File("copy.npz");
        ex.Save(copy, compressed: true);
        TapVidExample back = TapVidExample.Load(copy);
        Assert.Equal(ex.Video.UInt8, back.Video.UInt8);
        Assert.Equal(ex.QueryPoints, back.QueryPoints);
        Assert.Equal(ex.TargetPoints, back.TargetPoints);
        Assert.Equal(ex.Occluded, back.Occluded);
        Assert.Equal(ex.QueryMode, back.QueryMode);
    }

    [Fact]
    public void PredictionSavesLoadsAndValidates()
    {
        using var dir = new TempDir();
        var p = TapVidPrediction.CreateEmpty(N, T);
        p.Set(1, 2, 3.5f, -1f, occluded: true);
        string path = dir.File("pred.npz");
        p.Save(path);
        TapVidPrediction back = TapVidPrediction.Load(path, N, T);
        Assert.Equal(p.Tracks, back.Tracks);
        Assert.Equal(p.Occluded, back.Occluded);
        Assert.True(back.Occluded[1 * T + 2]);
        Assert.Equal(3.5f, back.Tracks[(1 * T + 2) * 2]);
        var e = Assert.Throws<TapVidDataException>(() => TapVidPrediction.Load(path, N + 1, T));
        Assert.Contains("N=3", e.Message);
        NpzWriter.Save(path, [new("tracks", NpyArray.Create(new float[N * T * 2], N, T, 2))]);
        Assert.Contains("missing array 'occluded'", Assert.Throws<TapVidDataException>(() => TapVidPrediction.Load(path)).Message);
    }

    [Fact]
    public void ZeroMotionKeepsQueryPosition()
    {
        using var dir = new TempDir();
        TapVidExample ex = TapVidExample.Load(Write(dir, ValidArrays()));
        TapVidPrediction p = TapVidPrediction.ZeroMotion(ex);
        for (int t = 0; t < T; t++)
        {
            Assert.Equal(4f, p.Tracks[(1 * T + t) * 2]); // x of point 1
            Assert.Equal(3f, p.Tracks[(1 * T + t) * 2 + 1]); // y of point 1
        }
        Assert.DoesNotContain(true, p.Occluded);
    }

    [Fact]
    public void ListDatasetSortsAndComplainsWhenEmpty()
    {
        using var dir = new TempDir();
        Assert.Throws<FileNotFoundException>(() => TapVidExample.ListDataset(dir.Path));
        Assert.Throws<DirectoryNotFoundException>(() => TapVidExample.ListDataset(dir.File("nope")));
        File.WriteAllText(dir.File("b.npz"), "");
        File.WriteAllText(dir.File("a.npz"), "");
        File.WriteAllText(dir.File("c.txt"), "");
        Assert.Equal([dir.File("a.npz"), dir.File("b.npz")], TapVidExample.ListDataset(dir.Path));
    }
}
