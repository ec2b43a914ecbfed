using CausalTap.Imaging;
using OpenCvSharp;
using Xunit.Abstractions;

namespace CausalTap.Tracking.Tests.Engine;

/// <summary>The TapirLk rule, alone and inside <see cref="StreamTracker"/> on the bundled default model.</summary>
public sealed class TapirLkTests(ITestOutputHelper output)
{
    private const float Visible = -4f, Hidden = 4f; // logits: σ = 0.018 / 0.982

    [Fact]
    public void Rule_prefers_LK_recovers_with_TAPIR_after_two_frames_and_holds_a_hidden_point()
    {
        var far = 0;
        // LK tracked, TAPIR sees the point nearby -> LK (the precise one).
        Fusion.FuseLocal(100, 100, Visible, Visible, 104, 103, true, 90, 90, ref far, out var x, out var y, out var v);
        Assert.Equal((104f, 103f, true, 0), (x, y, v, far));
        // LK tracked, TAPIR does not see it -> LK, visible (LK's forward-backward check passed).
        Fusion.FuseLocal(100, 100, Hidden, Hidden, 140, 100, true, 90, 90, ref far, out x, out y, out v);
        Assert.Equal((140f, 100f, true, 0), (x, y, v, far));
        // TAPIR sees it far from LK: the first frame keeps LK, the second takes TAPIR's re-detection.
        Fusion.FuseLocal(100, 100, Visible, Visible, 120, 100, true, 90, 90, ref far, out x, out y, out v);
        Assert.Equal((120f, 100f, true, 1), (x, y, v, far));
        Fusion.FuseLocal(100, 100, Visible, Visible, 121, 100, true, 120, 100, ref far, out x, out y, out v);
        Assert.Equal((100f, 100f, true, 0), (x, y, v, far));
        // One far frame, then agreement again: the count starts over.
        Fusion.FuseLocal(100, 100, Visible, Visible, 130, 100, true, 100, 100, ref far, out _, out _, out _);
        Fusion.FuseLocal(100, 100, Visible, Visible, 101, 100, true, 130, 100, ref far, out x, out y, out v);
        Assert.Equal((101f, 100f, true, 0), (x, y, v, far));
        // LK lost it, TAPIR sees it near where it was -> TAPIR at once.
        Fusion.FuseLocal(95, 95, Visible, Visible, float.NaN, float.NaN, false, 90, 90, ref far, out x, out y, out v);
        Assert.Equal((95f, 95f, true, 0), (x, y, v, far));
        // LK lost it, TAPIR sees it far away -> held and hidden for one frame, then TAPIR.
        Fusion.FuseLocal(200, 200, Visible, Visible, float.NaN, float.NaN, false, 90, 90, ref far, out x, out y, out v);
        Assert.Equal((90f, 90f, false, 1), (x, y, v, far));
        Fusion.FuseLocal(200, 201, Visible, Visible, float.NaN, float.NaN, false, 90, 90, ref far, out x, out y, out v);
        Assert.Equal((200f, 201f, true, 0), (x, y, v, far));
        // Neither sees it -> hidden, held where it was last seen.
        Fusion.FuseLocal(100, 100, Hidden, Visible, float.NaN, float.NaN, false, 90, 90, ref far, out x, out y, out v);
        Assert.Equal((90f, 90f, false, 0), (x, y, v, far));
    }

    [Fact]
    public void Follows_a_translating_texture_to_a_fraction_of_a_pixel_on_the_bundled_model()
    {
        string dir = Path.Combine(CausalTap.TestShared.TestRepo.Root, "models", "causaltap-default");
        using var model = TrackerModel.Load(ModelDirectory.Open(dir), new TrackerOptions(IntraOpThreads: 1));
        using var tracker = new StreamTracker(model, TrackingMethod.TapirLk);
        const int w = 320, h = 240;
        using var texture = new Mat(h + 80, w + 80, MatType.CV_8UC3);
        Cv2.SetTheRNG(11);
        Cv2.Randu(texture, Scalar.All(0), Scalar.All(255));
        Cv2.GaussianBlur(texture, texture, new Size(0, 0), 2.5);

        (float X, float Y)[] queries = [(80.5f, 60.5f), (160f, 120f), (250.25f, 190.75f)];
        foreach (var (qx, qy) in queries) tracker.AddPoint(qx, qy);
        using var frame = new RgbImage(w, h);
        double worst = 0;
        for (var f = 0; f < 12; f++)
        {
            // The camera pans: content moves by (1.7, -0.9) px per frame.
            double dx = 1.7 * f, dy = -0.9 * f;
            using var m = new Mat(2, 3, MatType.CV_64FC1);
            m.Set(0, 0, 1.0); m.Set(0, 1, 0.0); m.Set(0, 2, dx - 40);
            m.Set(1, 0, 0.0); m.Set(1, 1, 1.0); m.Set(1, 2, dy - 40);
            Cv2.WarpAffine(texture, frame.AsMat(), m, new Size(w, h), InterpolationFlags.Linear);
            TrackFrameResult result = tracker.Track(frame);
            for (var i = 0; i < queries.Length; i++)
            {
                PointEstimate p = result.Points[i];
                double error = Math.Sqrt(Math.Pow(p.X - (queries[i].X + dx), 2) + Math.Pow(p.Y - (queries[i].Y + dy), 2));
                worst = Math.Max(worst, error);
                Assert.True(error < 0.5, $"frame {f}, point {p.Id}: ({p.X:F2}, {p.Y:F2}), expected ({queries[i].X + dx:F2}, {queries[i].Y + dy:F2})");
            }
        }
        output.WriteLine($"worst error over 12 frames: {worst:F3} px");
    }
}
