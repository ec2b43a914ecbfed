using CausalTap.Imaging.Tests.TestSupport;
using Xunit.Abstractions;

namespace CausalTap.Imaging.Tests;

public sealed class ModelInputWriterTests(ITestOutputHelper output)
{
    /// <summary>One 8-bit step after normalisation (1/127.5), plus float slack.</summary>
    private const float OneLsb = 1f / 127.5f + 1e-5f;

    [PythonTheory]
    [InlineData(640, 480, 256, 256)] // downscale 2.5 x 1.875
    [InlineData(100, 50, 256, 256)]  // upscale
    [InlineData(256, 256, 256, 256)] // identity
    [InlineData(512, 512, 256, 256)] // exactly 2x (OpenCV switches to INTER_AREA here: same weights)
    [InlineData(300, 200, 160, 128)] // non-square, ratio < 2
    [InlineData(33, 17, 64, 48)]     // odd sizes, upscale
    public void MatchesOpenCvResizeAndNormalisation(int sw, int sh, int mw, int mh)
    {
        using var tmp = new TempDir();
        var rgb = RefPeer.Synth(tmp.File("src.rgb"), sw, sh, seed: sw * 7 + sh);
        RefPeer.Run("resize", tmp.File("src.rgb"), sw, sh, mw, mh, tmp.File("ref.f32"));
        var expected = RefPeer.ReadFloats(tmp.File("ref.f32"));

        var writer = new ModelInputWriter(mw, mh);
        var actual = new float[writer.TensorLength];
        using var image = new RgbImage(rgb, sw, sh);
        writer.Write(image, actual);

        Assert.Equal(expected.Length, actual.Length);
        double max = 0, sum = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var d = Math.Abs(actual[i] - expected[i]);
            max = Math.Max(max, d);
            sum += d;
        }
        var mean = sum / actual.Length;
        output.WriteLine($"{sw}x{sh} -> {mw}x{mh}: max |diff| {max:E3} ({max * 127.5:F3} LSB), mean {mean * 127.5:F4} LSB");
        if (sw == mw && sh == mh)
        {
            Assert.True(max <= 1e-6, $"identity resize differs by {max}");
        }
        Assert.True(max <= OneLsb, $"max difference {max} exceeds one 8-bit step");
        Assert.True(mean <= 0.3 / 127.5, $"mean difference {mean * 127.5} LSB is too large");
    }

    [Fact]
    public void StridedSource_GivesSameResultAsPacked()
    {
        const int w = 50, h = 30;
        var packed = new byte[w * h * 3];
        new Random(2).NextBytes(packed);
        const int stride = w * 3 + 13;
        var padded = new byte[stride * h];
        Array.Fill(padded, (byte)255);
        for (var y = 0; y < h; y++)
        {
            packed.AsSpan(y * w * 3, w * 3).CopyTo(padded.AsSpan(y * stride));
        }
        var writer = new ModelInputWriter(64, 64);
        var a = new float[writer.TensorLength];
        var b = new float[writer.TensorLength];
        writer.Write(packed, w, h, w * 3, a);
        writer.Write(padded, w, h, stride, b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Normalisation_MapsZeroAndFullScaleToMinusOneAndOne()
    {
        var writer = new ModelInputWriter(8, 8);
        var dst = new float[writer.TensorLength];
        var black = new byte[4 * 4 * 3];
        writer.Write(black, 4, 4, 12, dst);
        Assert.All(dst, v => Assert.Equal(-1f, v));
        var white = Enumerable.Repeat((byte)255, 4 * 4 * 3).ToArray();
        writer.Write(white, 4, 4, 12, dst);
        Assert.All(dst, v => Assert.Equal(1f, v, 6));
    }

    [Fact]
    public void ChannelPlanes_AreInRgbOrder()
    {
        var writer = new ModelInputWriter(4, 4);
        var dst = new float[writer.TensorLength];
        var img = new byte[2 * 2 * 3];
        for (var i = 0; i < 4; i++)
        {
            img[i * 3] = 255; // R = 255, G = 0, B = 127.5-ish
            img[i * 3 + 2] = 51;
        }
        writer.Write(img, 2, 2, 6, dst);
        Assert.Equal(1f, dst[0], 5);
        Assert.Equal(-1f, dst[16], 5);
        Assert.Equal(51 / 127.5f - 1, dst[32], 5);
    }

    [Fact]
    public void ResizeIsConsistentWithCoordinateMapping()
    {
        // Source: value at pixel column c is 2c, i.e. at continuous raster x the smooth ramp is 2(x - 0.5).
        const int sw = 100, sh = 10, mw = 256, mh = 8;
        var img = new byte[sw * sh * 3];
        for (var y = 0; y < sh; y++)
        {
            for (var x = 0; x < sw; x++)
            {
                img[(y * sw + x) * 3] = (byte)(2 * x);
            }
        }
        var writer = new ModelInputWriter(mw, mh);
        var dst = new float[writer.TensorLength];
        writer.Write(img, sw, sh, sw * 3, dst);
        var map = new CoordinateMapping(sw, sh, mw, mh);
        for (var i = 0; i < mw; i++)
        {
            var (sx, _) = map.ToSource(i + 0.5f, 0.5f); // model pixel centre -> source raster x
            var expected = Math.Clamp(2 * (sx - 0.5f), 0, 2 * (sw - 1));
            var actual = (dst[3 * mw + i] + 1) * 127.5f; // row 3 of the R plane
            Assert.True(Math.Abs(actual - expected) < 1e-3, $"model x {i}: {actual} vs {expected}");
        }
    }

    [Fact]
    public void CoordinateMapping_ScalesAndRoundTrips()
    {
        var map = new CoordinateMapping(640, 480, 256, 256);
        Assert.Equal((128f, 128f), map.ToModel(320, 240));
        Assert.Equal((256f, 256f), map.ToModel(640, 480)); // far corner of the last pixel
        Assert.Equal((0.5f * 640 / 256, 0.5f * 480 / 256), map.ToSource(0.5f, 0.5f));
        var (x, y) = map.ToSource(map.ToModel(123.25f, 77.5f).X, map.ToModel(123.25f, 77.5f).Y);
        Assert.Equal(123.25f, x, 4);
        Assert.Equal(77.5f, y, 4);
        float[] xy = [128, 64, 0, 256];
        map.ToSourceInPlace(xy);
        Assert.Equal([320f, 120f, 0f, 480f], xy);
        map.ToModelInPlace(xy);
        Assert.Equal([128f, 64f, 0f, 256f], xy);
    }

    [Fact]
    public void WarmWrite_AllocatesNothing_AndReportsTiming()
    {
        var src = new byte[640 * 480 * 3];
        new Random(4).NextBytes(src);
        using var image = new RgbImage(src, 640, 480);
        var writer = new ModelInputWriter(256, 256);
        var dst = new float[writer.TensorLength];
        var (allocated, ms) = Allocations.Measure(() => writer.Write(image, dst), calls: 50);
        output.WriteLine($"640x480 -> 256x256 resize+normalise: {ms:F3} ms/frame, {allocated} bytes allocated in 50 warm calls");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void WrongSizes_AreRejected()
    {
        var writer = new ModelInputWriter(16, 16);
        Assert.Throws<ArgumentException>(() => writer.Write(new byte[12], 2, 2, 6, new float[10]));
        Assert.Throws<ArgumentException>(() => writer.Write(new byte[11], 2, 2, 6, new float[writer.TensorLength]));
        Assert.Throws<ArgumentException>(() => writer.Write(new byte[12], 2, 2, 5, new float[writer.TensorLength]));
    }
}
