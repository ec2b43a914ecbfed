using CausalTap.Imaging;
using CausalTap.Tracking.LucasKanade;
using OpenCvSharp;

namespace CausalTap.Tracking.Tests.Engine;

public sealed class PyramidalLucasKanadeTests
{
    /// <summary>A smooth random texture: blurred noise, so every window has gradients in both directions.</summary>
    private static Mat Texture(int w, int h, int seed)
    {
        var noise = new Mat(h, w, MatType.CV_8UC3);
        Cv2.SetTheRNG((ulong)seed);
        Cv2.Randu(noise, Scalar.All(0), Scalar.All(255));
        Cv2.GaussianBlur(noise, noise, new Size(0, 0), 2.0);
        return noise;
    }

    private static RgbImage Shifted(Mat texture, double dx, double dy, int w, int h)
    {
        using var m = new Mat(2, 3, MatType.CV_64FC1);
        m.Set(0, 0, 1.0); m.Set(0, 1, 0.0); m.Set(0, 2, dx);
        m.Set(1, 0, 0.0); m.Set(1, 1, 1.0); m.Set(1, 2, dy);
        var image = new RgbImage(w, h);
        Cv2.WarpAffine(texture, image.AsMat(), m, new Size(w, h), InterpolationFlags.Linear, BorderTypes.Reflect101);
        return image;
    }

    [Fact]
    public void Follows_a_subpixel_translation_and_refuses_a_point_that_left_the_image()
    {
        const int w = 160, h = 120;
        using Mat texture = Texture(w, h, 5);
        using RgbImage first = Shifted(texture, 0, 0, w, h);
        using RgbImage second = Shifted(texture, 3.4, -2.2, w, h);
        using var lk = new PyramidalLucasKanade();
        lk.SetPreviousFrame(first);

        Point2f[] from = [new(40, 40), new(80, 60), new(120, 90), new(158.5f, 60)];
        var to = new Point2f[from.Length];
        var tracked = new bool[from.Length];
        lk.Track(second, from, to, tracked);

        for (var i = 0; i < 3; i++)
        {
            Assert.True(tracked[i], $"point {i} should pass the forward-backward check");
            Assert.InRange(to[i].X - from[i].X, 3.4 - 0.1, 3.4 + 0.1);
            Assert.InRange(to[i].Y - from[i].Y, -2.2 - 0.1, -2.2 + 0.1);
        }
        Assert.False(tracked[3], $"a point moved to x = {to[3].X} (past the right edge) is not tracked");
        Assert.True(lk.HasPreviousFrame);
    }

    [Fact]
    public void A_point_whose_content_is_replaced_fails_the_forward_backward_check()
    {
        const int w = 160, h = 120;
        using Mat texture = Texture(w, h, 5);
        using Mat other = Texture(w, h, 99);
        using RgbImage first = Shifted(texture, 0, 0, w, h);
        using RgbImage second = Shifted(other, 0, 0, w, h); // every pixel changed: an occluder over the whole frame
        using var lk = new PyramidalLucasKanade();
        lk.SetPreviousFrame(first);
        Point2f[] from = [new(40, 40), new(80, 60), new(120, 90), new(60, 80), new(100, 30)];
        var to = new Point2f[from.Length];
        var tracked = new bool[from.Length];
        lk.Track(second, from, to, tracked);
        Assert.True(tracked.Count(t => t) <= 1, $"tracked {tracked.Count(t => t)} of {from.Length} points through unrelated content");
    }

    [Fact]
    public void Needs_a_previous_frame_of_the_same_size()
    {
        using var lk = new PyramidalLucasKanade();
        using var frame = new RgbImage(32, 32);
        var none = Assert.Throws<InvalidOperationException>(() => lk.Track(frame, [], [], []));
        Assert.Contains("SetPreviousFrame", none.Message);
        lk.SetPreviousFrame(frame);
        using var bigger = new RgbImage(64, 32);
        var e = Assert.Throws<ArgumentException>(() => lk.Track(bigger, [], [], []));
        Assert.Contains("frame size changed from 32x32 to 64x32", e.Message);
    }
}
