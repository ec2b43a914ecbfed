using CausalTap.Imaging.Tests.TestSupport;

namespace CausalTap.Imaging.Tests;

public sealed class FrameDecoderTests
{
    [PythonFact]
    public void Encoded_SniffsJpegAndPng()
    {
        var jpeg = ImageDecoderJpegTests.MakeJpeg(48, 32);
        var png = TestPngWriter.Write(new byte[10 * 6 * 3], 10, 6, 3, _ => 0);
        using var decoder = new FrameDecoder();
        using var image = new RgbImage();
        Assert.Equal(PixelFormat.Jpeg, decoder.Decode(jpeg, PixelFormat.Encoded, image));
        Assert.Equal((48, 32), (image.Width, image.Height));
        Assert.Equal(PixelFormat.Png, decoder.Decode(png, PixelFormat.Encoded, image));
        Assert.Equal((10, 6), (image.Width, image.Height));
        Assert.Equal(PixelFormat.Gray8, decoder.Decode(new byte[12], PixelFormat.Gray8, image, 4, 3));
        Assert.Equal((4, 3), (image.Width, image.Height));
    }

    [Fact]
    public void Encoded_UnknownBytes_AndUnsupportedFormats_AreClearErrors()
    {
        using var decoder = new FrameDecoder();
        using var image = new RgbImage();
        var e = Assert.Throws<ImageDecodeException>(() => decoder.Decode("GIF89a....."u8, PixelFormat.Encoded, image));
        Assert.Contains("neither JPEG", e.Message);
        Assert.Contains("474946383961", e.Message);
        var u = Assert.Throws<ImageDecodeException>(() => decoder.Decode(new byte[3], PixelFormat.Unspecified, image));
        Assert.Equal(ImageDecodeError.Unsupported, u.Error);
    }

    [Fact]
    public void PngLabelledAsJpeg_SaysItIsPng()
    {
        var png = TestPngWriter.Write(new byte[4 * 4 * 3], 4, 4, 3, _ => 0);
        using var decoder = new FrameDecoder();
        var e = Assert.Throws<ImageDecodeException>(() => decoder.Decode(png, PixelFormat.Jpeg, new RgbImage()));
        Assert.Contains("the data is a PNG", e.Message);
    }

    [Fact]
    public void CallerProvidedBuffer_IsUsedWhenLargeEnough()
    {
        var buffer = new byte[64 * 64 * 3];
        using var image = new RgbImage(buffer, 64, 64);
        using var decoder = new FrameDecoder();
        decoder.Decode(Enumerable.Repeat((byte)9, 32 * 16).ToArray(), PixelFormat.Gray8, image, 32, 16);
        Assert.Same(buffer, image.Buffer);
        Assert.Equal(9, buffer[32 * 16 * 3 - 1]);
    }
}
