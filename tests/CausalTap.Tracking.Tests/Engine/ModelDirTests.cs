namespace CausalTap.Tracking.Tests.Engine;

/// <summary>model.json, model directories and graph validation: every problem gives a clear error.</summary>
[Collection("Engine")]
public sealed class ModelDirTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "causaltap-modeldir-" + Guid.NewGuid().ToString("N"));

    public ModelDirTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>Copies the small reference model into <paramref name="root"/>/<paramref name="name"/>.</summary>
    internal static string CopyModel(string root, string name)
    {
        var src = EngineReference.ModelDir("small");
        var dst = Path.Combine(root, name);
        Directory.CreateDirectory(dst);
        foreach (var f in Directory.GetFiles(src))
        {
            File.Copy(f, Path.Combine(dst, Path.GetFileName(f)));
        }
        return dst;
    }

    [EngineFact]
    public void OpensTheReferenceModelAndVerifiesChecksums()
    {
        var md = ModelDirectory.Open(CopyModel(_root, "ok"));
        Assert.True(md.HasTapir);
        Assert.True(md.HasGmrw);
        Assert.Equal(256, md.InputWidth);
        Assert.Equal(256, md.InputHeight);
        Assert.Equal(5, md.Card.Graphs.Count);
        Assert.Equal(3.0, md.Card.FbThresholdPx);
        Assert.Empty(md.VerifyChecksums());
        using var model = TrackerModel.Load(md, new TrackerOptions(IntraOpThreads: 1));
        Assert.Equal("cpu", model.Provider.Provider);
        Assert.Equal(10240, model.StateFloatsPerPoint);
        Assert.Equal([1L, 128, 32, 32], model.LowresShape);
    }

    [EngineFact]
    public void CorruptGraphIsReportedByChecksumsAndByLoad()
    {
        var dir = CopyModel(_root, "corrupt");
        File.WriteAllBytes(Path.Combine(dir, "step.onnx"), "this is not an onnx model"u8.ToArray());
        var md = ModelDirectory.Open(dir);
        var problem = Assert.Single(md.VerifyChecksums());
        Assert.StartsWith("step.onnx: sha256 mismatch", problem);
        var e = Assert.Throws<ModelLoadException>(() => TrackerModel.Load(md));
        Assert.Contains("graph 'step'", e.Message);
        Assert.Contains("cannot be loaded by ONNX Runtime", e.Message);
    }

    [EngineFact]
    public void MissingGraphIsReportedByChecksumsAndByLoad()
    {
        var dir = CopyModel(_root, "missing");
        File.Delete(Path.Combine(dir, "query.onnx"));
        var md = ModelDirectory.Open(dir);
        Assert.Contains("query.onnx: missing (listed in model.json as 'query').", md.VerifyChecksums());
        var e = Assert.Throws<ModelLoadException>(() => TrackerModel.Load(md));
        Assert.Contains("graph 'query'", e.Message);
        Assert.Contains("is missing", e.Message);
    }

    [EngineFact]
    public void SwappedGraphFailsInterfaceValidation()
    {
        var dir = CopyModel(_root, "swapped");
        File.Copy(Path.Combine(dir, "gmrw_match.onnx"), Path.Combine(dir, "step.onnx"), overwrite: true);
        var e = Assert.Throws<ModelLoadException>(() => TrackerModel.Load(ModelDirectory.Open(dir)));
        Assert.Contains("step.onnx has inputs [prev_features, new_features, points], expected [lowres, hires, query_lowres, query_hires, state]", e.Message);
    }

    [EngineFact]
    public void CardShapeThatDisagreesWithTheGraphIsAnError()
    {
        var dir = CopyModel(_root, "badcard");
        var path = Path.Combine(dir, "model.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("10240", "10000"));
        var e = Assert.Throws<ModelLoadException>(() => TrackerModel.Load(ModelDirectory.Open(dir)));
        Assert.Contains("tensor 'state'", e.Message);
        Assert.Contains("[N, 10000] in model.json", e.Message);
    }

    [Fact]
    public void NotAModelDirectoryAndBrokenCardsGiveClearErrors()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_root, "empty")).FullName;
        Assert.Contains("has no model.json", Assert.Throws<ModelLoadException>(() => ModelDirectory.Open(empty)).Message);
        Assert.Contains("does not exist", Assert.Throws<ModelLoadException>(() => ModelDirectory.Open(Path.Combine(_root, "nope"))).Message);
        var broken = Directory.CreateDirectory(Path.Combine(_root, "broken")).FullName;
        File.WriteAllText(Path.Combine(broken, "model.json"), "{ nope");
        Assert.Contains("is not valid JSON", Assert.Throws<ModelLoadException>(() => ModelDirectory.Open(broken)).Message);
        var bare = Directory.CreateDirectory(Path.Combine(_root, "bare")).FullName;
        File.WriteAllText(Path.Combine(bare, "model.json"), """{"description": "no graphs"}""");
        var md = ModelDirectory.Open(bare);
        Assert.False(md.HasTapir || md.HasGmrw);
        Assert.Contains("neither the TAPIR graphs", Assert.Throws<ModelLoadException>(() => TrackerModel.Load(md)).Message);

        var problems = new List<string>();
        var listed = ModelDirectory.List(_root, problems);
        Assert.Equal(["bare"], listed.Select(m => m.Name));
        Assert.Contains(problems, p => p.Contains("is not valid JSON"));
    }

    [Fact]
    public void FusionRule()
    {
        const float thr = 3f;
        // TAPIR visible -> TAPIR position, visible.
        Assert.False(Fusion.Fuse(10, 10, -3, -3, 50, 50, 0.1f, thr, 256, 256, out var x, out var y, out var v));
        Assert.Equal((10f, 10f, true), (x, y, v));
        // TAPIR unsure (expd high) but not occluded, GMRW consistent -> GMRW position, visible.
        Assert.True(Fusion.Fuse(10, 10, -3, 3, 50, 50, 0.1f, thr, 256, 256, out x, out y, out v));
        Assert.Equal((50f, 50f, true), (x, y, v));
        // TAPIR says occluded -> TAPIR position, not visible, even when GMRW is consistent.
        Assert.False(Fusion.Fuse(10, 10, 3, 3, 50, 50, 0.1f, thr, 256, 256, out x, out y, out v));
        Assert.Equal((10f, 10f, false), (x, y, v));
        // GMRW inconsistent (fb over threshold, or outside the image) -> TAPIR position, not visible.
        Assert.False(Fusion.Fuse(10, 10, -3, 3, 50, 50, 3f, thr, 256, 256, out x, out y, out v));
        Assert.Equal((10f, 10f, false), (x, y, v));
        Assert.False(Fusion.Fuse(10, 10, -3, 3, 300, 50, 0f, thr, 256, 256, out _, out _, out v));
        Assert.False(v);
        Assert.True(Fusion.TapirVisible(-3, -3));
        Assert.False(Fusion.TapirVisible(0, 0)); // 0.25 < 0.5
        Assert.Equal(0.5f, Fusion.GmrwOcclusion(1, 1, thr, thr, 256, 256));
        Assert.Equal(1f, Fusion.GmrwOcclusion(-1, 1, 0, thr, 256, 256));
    }
}
