using CausalTap.Imaging;
using Xunit.Abstractions;

namespace CausalTap.Tracking.Tests.Engine;

/// <summary>Point-table behaviour, allocations and bad inputs of <see cref="StreamTracker"/> on the small model.</summary>
[Collection("Engine")]
public sealed class StreamTrackerTests(EngineModels models, ITestOutputHelper output)
{
    private RgbImage[] Frames => EngineReference.Frames(models.Reference("small"));

    private static readonly (float X, float Y)[] Points = [(40.5f, 60.25f), (128f, 128f), (200.75f, 30f), (90f, 210f), (230f, 180f)];

    [EngineTheory]
    [InlineData(TrackingMethod.Tapir)]
    [InlineData(TrackingMethod.Fused)]
    [InlineData(TrackingMethod.TapirLk)]
    public void AddingAPointResetsOnlyItsOwnState(TrackingMethod method)
    {
        var model = models.Get("small");
        var frames = Frames;
        using var baseline = new StreamTracker(model, method);
        using var withAdd = new StreamTracker(model, method);
        using var fresh = new StreamTracker(model, method); // starts at frame 3 with only the added point
        foreach (var (x, y) in Points)
        {
            baseline.AddPoint(x, y);
            withAdd.AddPoint(x, y);
        }
        int addedId = 0, freshId = 0;
        for (var f = 0; f < frames.Length; f++)
        {
            if (f == 3)
            {
                addedId = withAdd.AddPoint(150f, 75f);
                freshId = fresh.AddPoint(150f, 75f);
            }
            var a = baseline.Track(frames[f]).Points.ToArray();
            var b = withAdd.Track(frames[f]).Points.ToArray();
            Assert.Equal(f >= 3 ? Points.Length + 1 : Points.Length, b.Length);
            for (var i = 0; i < a.Length; i++)
            {
                Assert.Equal(a[i].Id, b[i].Id);
                Assert.True(MathF.Abs(a[i].X - b[i].X) < 1e-4f && MathF.Abs(a[i].Y - b[i].Y) < 1e-4f,
                    $"frame {f}, point {a[i].Id}: ({a[i].X}, {a[i].Y}) without the addition, ({b[i].X}, {b[i].Y}) with it");
                Assert.True(MathF.Abs(a[i].OcclusionProbability - b[i].OcclusionProbability) < 1e-5f);
            }
            if (f >= 3)
            {
                var c = fresh.Track(frames[f]).Points[0];
                var added = b[^1];
                Assert.Equal(addedId, added.Id);
                Assert.Equal(freshId, c.Id);
                // The added point behaves exactly like the same point on a fresh stream: its state started at zero.
                Assert.True(MathF.Abs(added.X - c.X) < 1e-4f && MathF.Abs(added.Y - c.Y) < 1e-4f,
                    $"frame {f}: added point at ({added.X}, {added.Y}), same point on a fresh stream at ({c.X}, {c.Y})");
            }
        }
    }

    [EngineTheory]
    [InlineData(TrackingMethod.Fused)]
    [InlineData(TrackingMethod.TapirLk)] // its per-row LK state (far re-detection counts) is compacted too
    public void RemovingKeepsOtherIdsAndOutputsAndIdsAreNeverReused(TrackingMethod method)
    {
        var model = models.Get("small");
        var frames = Frames;
        using var full = new StreamTracker(model, method);
        using var tracker = new StreamTracker(model, method);
        var ids = Points.Select(p => tracker.AddPoint(p.X, p.Y)).ToArray();
        foreach (var (x, y) in Points)
        {
            full.AddPoint(x, y);
        }
        Assert.Equal([1, 2, 3, 4, 5], ids);
        Assert.Equal(ids, tracker.PointIds);
        for (var f = 0; f < frames.Length; f++)
        {
            if (f == 2)
            {
                Assert.True(tracker.RemovePoint(ids[1]));
                Assert.False(tracker.RemovePoint(ids[1]));
                Assert.False(tracker.RemovePoint(999));
            }
            if (f == 3)
            {
                var queued = tracker.AddPoint(10f, 10f);
                Assert.Equal(6, queued);
                Assert.True(tracker.RemovePoint(queued)); // removed before its query frame: never tracked
                Assert.Equal(7, tracker.AddPoint(20f, 20f)); // ids are never reused
            }
            var all = full.Track(frames[f]).Points.ToArray();
            var some = tracker.Track(frames[f]).Points.ToArray();
            var expected = f < 2 ? ids : f == 2 ? ids.Where(i => i != 2).ToArray() : [1, 3, 4, 5, 7];
            Assert.Equal(expected, some.Select(e => e.Id).ToArray());
            Assert.Equal(expected, tracker.PointIds);
            foreach (var e in some.Where(e => e.Id <= 5))
            {
                var r = all.Single(a => a.Id == e.Id);
                Assert.True(MathF.Abs(r.X - e.X) < 1e-4f && MathF.Abs(r.Y - e.Y) < 1e-4f && r.Visible == e.Visible,
                    $"frame {f}, point {e.Id}: ({e.X}, {e.Y}) after removing point 2, ({r.X}, {r.Y}) without removing it");
            }
        }
    }

    [EngineTheory]
    [InlineData(TrackingMethod.Fused)]
    [InlineData(TrackingMethod.Tapir)]
    [InlineData(TrackingMethod.Gmrw)]
    public void TrackAllocatesNothingPerFrameWith64Points(TrackingMethod method)
    {
        var model = models.Get("small");
        var frames = Frames;
        using var tracker = new StreamTracker(model, method);
        var rng = new Random(3);
        for (var i = 0; i < 64; i++)
        {
            tracker.AddPoint((float)rng.NextDouble() * 255f, (float)rng.NextDouble() * 255f);
        }
        for (var f = 0; f < 3; f++)
        {
            tracker.Track(frames[f]); // warm-up: query frame, first GMRW match, tensors for 64 points
        }
        const int measured = 6;
        var counts = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var f = 0; f < measured; f++)
        {
            counts += tracker.Track(frames[f % frames.Length]).Points.Length; // no Assert inside: xunit's comparers allocate
        }
        var perFrame = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)measured;
        Assert.Equal(64 * measured, counts);
        var t = tracker.LastTimings;
        output.WriteLine($"{method}, 64 points, small preset 256x256: {perFrame} managed bytes allocated per Track() after warm-up; " +
                         $"last frame {t.TotalMs:F1} ms (preprocess {t.PreprocessMs:F2}, encoder {t.EncoderMs:F1}, query {t.QueryMs:F1}, " +
                         $"step {t.StepMs:F1}, gmrw {t.LocalMs:F1}, fuse {t.FuseMs:F3})");
        Assert.Equal(0, perFrame);
        Assert.True(t.TotalMs > 0);
    }

    [EngineFact]
    public void AddPointRejectsNonFiniteAndOutOfImagePoints()
    {
        using var tracker = new StreamTracker(models.Get("small"), TrackingMethod.Tapir);
        var nan = Assert.Throws<ArgumentException>(() => tracker.AddPoint(float.NaN, 3f));
        Assert.Contains("not a finite position", nan.Message);
        Assert.Equal("x", nan.ParamName);
        Assert.Throws<ArgumentException>(() => tracker.AddPoint(3f, float.PositiveInfinity));
        var negative = Assert.Throws<ArgumentException>(() => tracker.AddPoint(5f, -0.5f));
        Assert.Contains("outside the image", negative.Message);
        tracker.AddPoint(5f, 5f);
        tracker.Track(new RgbImage(new byte[320 * 240 * 3], 320, 240));
        var outside = Assert.Throws<ArgumentException>(() => tracker.AddPoint(321f, 10f));
        Assert.Contains("outside the 320x240 image", outside.Message);
        Assert.Equal(2, tracker.AddPoint(320f, 240f)); // the far corner is inside (raster convention)
        Assert.Equal([1, 2], tracker.PointIds);
    }

    [EngineFact]
    public void SourcePixelsAreMappedToAndFromModelPixels()
    {
        // The same content at 2x the model size: queries and outputs scale by 2 (resize by exactly 2 is a
        // bilinear average, so positions agree only approximately with the model-size run).
        var model = models.Get("small");
        var frame = Frames[0];
        using var big = new RgbImage(frame.Width * 2, frame.Height * 2);
        for (var y = 0; y < big.Height; y++)
        {
            for (var x = 0; x < big.Width; x++)
            {
                var (r, g, b) = frame.GetPixel(x / 2, y / 2);
                var row = big.Row(y);
                row[3 * x] = r;
                row[3 * x + 1] = g;
                row[3 * x + 2] = b;
            }
        }
        using var t = new StreamTracker(model, TrackingMethod.Gmrw);
        t.AddPoint(100f, 300f);
        var r0 = t.Track(big);
        Assert.Equal(512, r0.SourceWidth);
        Assert.Equal(100f, r0.Points[0].X, 3);
        Assert.Equal(300f, r0.Points[0].Y, 3);
        Assert.Equal(50f, r0.Diagnostics[0].GmrwX, 3);
        Assert.Equal(150f, r0.Diagnostics[0].GmrwY, 3);
    }

    [EngineFact]
    public void UnsupportedMethodForTheModelIsAClearError()
    {
        var root = Path.Combine(Path.GetTempPath(), "causaltap-engine-" + Guid.NewGuid().ToString("N"));
        try
        {
            var dir = ModelDirTests.CopyModel(root, "tapir-only");
            var card = File.ReadAllText(Path.Combine(dir, "model.json"));
            var node = System.Text.Json.Nodes.JsonNode.Parse(card)!;
            node.AsObject().Remove("gmrw"); // the card keeps each family's graphs in its own section
            node["graphs"]?.AsObject().Remove("gmrw_encoder");
            node["graphs"]?.AsObject().Remove("gmrw_match");
            File.WriteAllText(Path.Combine(dir, "model.json"), node.ToJsonString());
            var md = ModelDirectory.Open(dir);
            Assert.True(md.HasTapir);
            Assert.False(md.HasGmrw);
            using var model = TrackerModel.Load(md);
            var e = Assert.Throws<ArgumentException>(() => new StreamTracker(model, TrackingMethod.Fused));
            Assert.Contains("needs both the TAPIR and the GMRW graphs", e.Message);
            using var ok = new StreamTracker(model, TrackingMethod.Tapir);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
