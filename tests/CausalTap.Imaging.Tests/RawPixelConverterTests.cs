using CausalTap.Imaging.Tests.TestSupport;

namespace CausalTap.Imaging.Tests;

public sealed class RawPixelConverterTests
{
    private const int W = 5, H = 3;

    [Theory]
    [InlineData(0)]      // packed
    [InlineData(W * 3)]  // explicit packed
    [InlineData(W * 3 + 7)] // padded rows
    public void Rgb8_WithStride_CopiesPixelsAndSkipsPadding(int stride)
    {
        var (data, effective) = Build(3, stride, (x, y, c) => (byte)(x * 40 + y * 10 + c));
        using var image = new RgbImage();
        RawPixelConverter.Convert(data, PixelFormat.Rgb8, W, H, stride, image);
        for (var y = 0; y < H; y++)
        {
            for (var x = 0; x < W; x++)
            {
                Assert.Equal(((byte)(x * 40 + y * 10), (byte)(x * 40 + y * 10 + 1), (byte)(x * 40 + y * 10 + 2)), image.GetPixel(x, y));
            }
        }
        Assert.Equal(effective * (H - 1) + W * 3, data.Length);
    }

    [Fact]
    public void Bgr8_IsSwappedToRgb()
    {
        var (data, _) = Build(3, W * 3 + 2, (x, y, c) => c switch { 0 => (byte)(x + 1), 1 => (byte)(y + 100), _ => 200 });
        using var image = new RgbImage();
        RawPixelConverter.Convert(data, PixelFormat.Bgr8, W, H, W * 3 + 2, image);
        Assert.Equal(((byte)200, (byte)101, (byte)3), image.GetPixel(2, 1)); // R came from the third byte, B from the first
    }

    [Fact]
    public void Gray8_IsReplicated()
    {
        var (data, _) = Build(1, W + 3, (x, y, _) => (byte)(x * 7 + y));
        using var image = new RgbImage();
        RawPixelConverter.Convert(data, PixelFormat.Gray8, W, H, W + 3, image);
        Assert.Equal(((byte)30, (byte)30, (byte)30), image.GetPixel(4, 2));
    }

    [Fact]
    public void BadLayouts_GiveClearErrors()
    {
        using var image = new RgbImage();
        var data = new byte[W * H * 3];
        var stride = Assert.Throws<ImageDecodeException>(() => RawPixelConverter.Convert(data, PixelFormat.Rgb8, W, H, W * 3 - 1, image));
        Assert.Equal(ImageDecodeError.InvalidLayout, stride.Error);
        Assert.Contains("stride 14 is less than width * 3 = 15", stride.Message);

        var shortBuf = Assert.Throws<ImageDecodeException>(() => RawPixelConverter.Convert(data.AsSpan(1), PixelFormat.Rgb8, W, H, 0, image));
        Assert.Contains("needs at least 45 bytes, got 44", shortBuf.Message);

        var padded = Assert.Throws<ImageDecodeException>(() => RawPixelConverter.Convert(data, PixelFormat.Rgb8, W, H, 20, image));
        Assert.Contains("needs at least 55 bytes", padded.Message);

        Assert.Contains("positive width", Assert.Throws<ImageDecodeException>(() => RawPixelConverter.Convert(data, PixelFormat.Gray8, 0, H, 0, image)).Message);
        Assert.Contains("not a raw pixel format", Assert.Throws<ImageDecodeException>(() => RawPixelConverter.Convert(data, PixelFormat.Jpeg, W, H, 0, image)).Message);
    }

    [Fact]
    public void WarmConversion_AllocatesNothing()
    {
        var data = new byte[640 * 480 * 3];
        using var image = new RgbImage();
        var (allocated, _) = Allocations.Measure(() =>
        {
            RawPixelConverter.Convert(data, PixelFormat.Bgr8, 640, 480, 0, image);
            RawPixelConverter.Convert(data, PixelFormat.Gray8, 640, 480, 0, image);
        }, calls: 5, warmup: TimeSpan.FromMilliseconds(300));
        Assert.Equal(0, allocated);
    }

    /// <summary>Raw rows with the given stride; padding bytes are 0xEE and the last row is unpadded.</summary>
    private static (byte[] Data, int Stride) Build(int channels, int stride, Func<int, int, int, byte> value)
    {
        var s = stride == 0 ? W * channels : stride;
        var data = new byte[s * (H - 1) + W * channels];
        Array.Fill(data, (byte)0xEE);
        for (var y = 0; y < H; y++)
        {
            for (var x = 0; x < W; x++)
            {
                for (var c = 0; c < channels; c++)
                {
                    data[y * s + x * channels + c] = value(x, y, c);
                }
            }
        }
        return (data, s);
    }
}
