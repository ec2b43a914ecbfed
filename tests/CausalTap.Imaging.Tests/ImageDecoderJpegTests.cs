using CausalTap.Imaging.Tests.TestSupport;
using Xunit.Abstractions;

namespace CausalTap.Imaging.Tests;

public sealed class ImageDecoderJpegTests(ITestOutputHelper output)
{
    [PythonTheory]
    [InlineData(640, 480, 90, 2, "pil")]   // 4:2:0
    [InlineData(640, 480, 95, 0, "pil")]   // 4:4:4
    [InlineData(320, 240, 75, 1, "pil")]   // 4:2:2
    [InlineData(37, 23, 85, 2, "pil")]     // partial MCUs at the right and bottom edges
    [InlineData(200, 150, 92, 0, "cv2")]
    [InlineData(64, 48, 90, 0, "pilgray")] // single-component JPEG -> R = G = B
    public void Decode_MatchesOpenCvDecodeOfTheSameFile(int w, int h, int quality, int subsampling, string encoder)
    {
        using var tmp = new TempDir();
        RefPeer.Synth(tmp.File("src.rgb"), w, h, seed: w + h);
        var jpg = tmp.File("img.jpg");
        RefPeer.Run("jpeg", tmp.File("src.rgb"), w, h, jpg, quality, subsampling, encoder);
        var (max, count) = Pixels.DecodeAndDiff(jpg, PixelFormat.Jpeg, w, h);
        output.WriteLine($"{encoder} q{quality} s{subsampling} {w}x{h}: max diff {max}, differing bytes {count}");
        Assert.True(max <= 1, $"max difference vs OpenCV is {max} ({count} bytes differ)");
    }

    [SharedDataFact("everyday_real/tum_rgbd_fr2_20f", needsPython: true)]
    public void Decode_RealCameraFrames_MatchOpenCv()
    {
        var dir = Path.Combine(Requirements.SharedData!, "everyday_real/tum_rgbd_fr2_20f");
        var files = Directory.GetFiles(dir, "*.jpg").Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        using var tmp = new TempDir();
        var decoder = new ImageDecoder();
        using var image = new RgbImage();
        foreach (var file in files.Take(5))
        {
            decoder.Decode(File.ReadAllBytes(file), PixelFormat.Jpeg, image);
            var (w, h, expected) = RefPeer.DecodeWithOpenCv(file, tmp.File("ref.rgb"));
            Assert.Equal((w, h), (image.Width, image.Height));
            var (max, count) = Pixels.Diff(image, expected);
            output.WriteLine($"{Path.GetFileName(file)} {w}x{h}: max diff {max}, differing bytes {count}");
            Assert.True(max <= 1, $"{file}: max difference vs OpenCV is {max}");
        }
    }

    [PythonFact]
    public void Decode_TruncatedFile_ThrowsTruncated_ThoughOpenCvWouldGreyFillIt()
    {
        var jpeg = MakeJpeg(320, 240);
        var decoder = new ImageDecoder();
        using var image = new RgbImage();
        // Cut in the middle of the entropy-coded data: libjpeg only *warns* here ("Premature end of JPEG file").
        var cut = jpeg.AsSpan(0, jpeg.Length * 6 / 10).ToArray();
        var e = Assert.Throws<ImageDecodeException>(() => decoder.Decode(cut, PixelFormat.Jpeg, image));
        output.WriteLine(e.Message);
        Assert.Equal(ImageDecodeError.Truncated, e.Error);
        Assert.Contains("EOI marker", e.Message);

        // Cut inside the header.
        var header = Assert.Throws<ImageDecodeException>(() => decoder.Decode(jpeg.AsSpan(0, 120), PixelFormat.Jpeg, image));
        output.WriteLine(header.Message);
        Assert.Equal(ImageDecodeError.Truncated, header.Error);
        Assert.Equal(PixelFormat.Jpeg, header.Format);

        // The decoder is still good afterwards.
        decoder.Decode(jpeg, PixelFormat.Jpeg, image);
        Assert.Equal(320, image.Width);
    }

    [PythonFact]
    public void Decode_CorruptEntropyData_GivesAFrameOfTheRightSize_AndTheDecoderStaysUsable()
    {
        // libjpeg treats damaged scan data with intact markers as a warning, not an error, and OpenCV returns the
        // damaged picture. Such a frame is tracked like any glitchy camera frame (the tracker's occlusion output
        // covers it); what must hold is no crash, no wrong size, and a decoder that still works.
        var jpeg = MakeJpeg(160, 120);
        var bad = (byte[])jpeg.Clone();
        var sos = FindMarker(bad, 0xDA);
        var rng = new Random(7);
        for (var i = sos + 20; i < bad.Length - 2; i++)
        {
            bad[i] = (byte)rng.Next(256);
        }
        var decoder = new ImageDecoder();
        using var image = new RgbImage();
        try
        {
            decoder.Decode(bad, PixelFormat.Jpeg, image);
            Assert.Equal((160, 120), (image.Width, image.Height));
        }
        catch (ImageDecodeException e)
        {
            output.WriteLine(e.Message);
            Assert.Equal(ImageDecodeError.Corrupt, e.Error);
        }
        decoder.Decode(jpeg, PixelFormat.Jpeg, image);
        Assert.Equal((160, 120), (image.Width, image.Height));
    }

    [Fact]
    public void Decode_GarbageBytes_ThrowsCorrupt()
    {
        var decoder = new ImageDecoder();
        using var image = new RgbImage();
        var garbage = new byte[1000];
        new Random(1).NextBytes(garbage);
        garbage[0] = 0x12;
        var e = Assert.Throws<ImageDecodeException>(() => decoder.Decode(garbage, PixelFormat.Jpeg, image));
        Assert.Equal(ImageDecodeError.Corrupt, e.Error);
        Assert.Contains("SOI", e.Message);

        // Right start and end markers, garbage between them: OpenCV's decoder refuses it.
        garbage[0] = 0xFF;
        garbage[1] = 0xD8;
        garbage[2] = 0xFF;
        garbage[^2] = 0xFF;
        garbage[^1] = 0xD9;
        var e2 = Assert.Throws<ImageDecodeException>(() => decoder.Decode(garbage, PixelFormat.Jpeg, image));
        output.WriteLine(e2.Message);
        Assert.Equal(ImageDecodeError.Corrupt, e2.Error);
        Assert.StartsWith("could not decode the JPEG", e2.Message);

        Assert.Throws<ImageDecodeException>(() => decoder.Decode([], PixelFormat.Jpeg, image));
    }

    [PythonFact]
    public void Decode_WarmDecoder_AllocatesOnlyHeaders_AndReportsTiming()
    {
        var jpeg = MakeJpeg(640, 480);
        var decoder = new ImageDecoder();
        using var image = new RgbImage();
        var (allocated, ms) = Allocations.Measure(() => decoder.Decode(jpeg, PixelFormat.Jpeg, image), calls: 30);
        output.WriteLine($"640x480 JPEG ({jpeg.Length} bytes, 4:2:0 q90) decode: {ms:F2} ms/frame, {allocated} bytes allocated in 30 warm decodes");
        // Pixels live in native memory and the warm destination buffer: the one managed object per call is the
        // Mat that Cv2.ImDecode returns (104 B), whatever the image size.
        Assert.InRange(allocated / 30, 0, 128);
    }

    internal static byte[] MakeJpeg(int w, int h, int quality = 90)
    {
        using var tmp = new TempDir();
        RefPeer.Synth(tmp.File("src.rgb"), w, h, seed: 3);
        RefPeer.Run("jpeg", tmp.File("src.rgb"), w, h, tmp.File("a.jpg"), quality, 2, "pil");
        return File.ReadAllBytes(tmp.File("a.jpg"));
    }

    private static int FindMarker(byte[] data, byte marker)
    {
        for (var i = 2; i + 1 < data.Length; i++)
        {
            if (data[i] == 0xFF && data[i + 1] == marker)
            {
                return i;
            }
        }
        throw new InvalidOperationException($"marker FF {marker:X2} not found");
    }
}
