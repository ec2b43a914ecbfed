using CausalTap.Imaging.Tests.TestSupport;
using Xunit.Abstractions;

namespace CausalTap.Imaging.Tests;

public sealed class ImageDecoderPngTests(ITestOutputHelper output)
{
    [PythonTheory]
    [InlineData("L")]      // grey 8
    [InlineData("LA")]     // grey + alpha 8
    [InlineData("RGB")]    // PIL RGB 8
    [InlineData("RGBA")]   // RGBA 8 (alpha dropped)
    [InlineData("P")]      // palette 8-bit indices
    [InlineData("P4")]     // palette 4-bit indices
    [InlineData("1")]      // 1-bit grey
    [InlineData("G16")]    // 16-bit grey (OpenCV): high byte
    [InlineData("RGB16")]  // 16-bit RGB (OpenCV): high byte
    [InlineData("cvRGB")]  // OpenCV/libpng RGB 8
    public void Decode_EachColourType_MatchesReferenceExactly(string mode)
    {
        using var tmp = new TempDir();
        const int w = 67, h = 45; // odd width: partial bytes for low bit depths
        RefPeer.Synth(tmp.File("src.rgb"), w, h, seed: 11);
        var png = tmp.File("img.png");
        RefPeer.Run("png", tmp.File("src.rgb"), w, h, mode, png);
        var (max, count) = Pixels.DecodeAndDiff(png, PixelFormat.Png, w, h);
        Assert.True(count == 0, $"{mode}: {count} bytes differ from the reference (max {max})");
    }

    [PythonFact]
    public void Decode_AllFiveFilterTypes_MatchesOriginalAndPil()
    {
        using var tmp = new TempDir();
        const int w = 53, h = 40;
        var pixels = RefPeer.Synth(tmp.File("src.rgb"), w, h, seed: 5);
        foreach (var channels in new[] { 3, 1 })
        {
            var src = channels == 3 ? pixels : pixels.Where((_, i) => i % 3 == 1).ToArray();
            var png = TestPngWriter.Write(src, w, h, channels, y => y % 5);
            File.WriteAllBytes(tmp.File("f.png"), png);
            // The peer must agree that the file is what we meant, else the test proves nothing.
            RefPeer.Run("pildecode", tmp.File("f.png"), tmp.File("pil.rgb"));
            var pil = File.ReadAllBytes(tmp.File("pil.rgb"));

            var decoder = new ImageDecoder();
            using var image = new RgbImage();
            decoder.Decode(png, PixelFormat.Png, image);
            Assert.Equal(0, Pixels.Diff(image, pil).Count);
            for (var i = 0; i < w * h; i++)
            {
                var expected = channels == 3 ? pixels.AsSpan(i * 3, 3) : [src[i], src[i], src[i]];
                Assert.True(image.Buffer.AsSpan(i * 3, 3).SequenceEqual(expected), $"pixel {i} ({channels} ch)");
            }
        }
    }

    [Fact]
    public void Decode_InterlaceFlagOverNonInterlacedData_IsAnError_NotAnImage()
    {
        // IHDR claims Adam7 but the data holds plain rows: too little data for the seven passes.
        var png = SmallPng();
        var ihdr = TestPngWriter.FindChunk(png, "IHDR");
        png[ihdr + 8 + 12] = 1;
        TestPngWriter.FixCrc(png, ihdr);
        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(png, PixelFormat.Png, new RgbImage()));
        Assert.Equal(ImageDecodeError.Corrupt, e.Error);
        Assert.StartsWith("could not decode the PNG", e.Message);
    }

    [Fact]
    public void Decode_Truncated_ThrowsTruncated()
    {
        var png = SmallPng();
        var decoder = new ImageDecoder();
        using var image = new RgbImage();
        foreach (var length in new[] { 4, 20, 40, png.Length / 2, png.Length - 5 })
        {
            var e = Assert.Throws<ImageDecodeException>(() => decoder.Decode(png.AsSpan(0, length), PixelFormat.Png, image));
            output.WriteLine($"{length}: {e.Message}");
            Assert.Equal(ImageDecodeError.Truncated, e.Error);
        }
        decoder.Decode(png, PixelFormat.Png, image); // still usable
    }

    [Fact]
    public void Decode_TruncatedZlibStream_WithValidChunks_IsAnError()
    {
        // A structurally valid file whose compressed data holds fewer rows than IHDR says.
        var pixels = new byte[20 * 10 * 3];
        var png = TestPngWriter.Write(pixels, 20, 10, 3, _ => 0);
        var ihdr = TestPngWriter.FindChunk(png, "IHDR");
        png[ihdr + 8 + 7] = 30; // claim 30 rows
        TestPngWriter.FixCrc(png, ihdr);
        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(png, PixelFormat.Png, new RgbImage()));
        output.WriteLine(e.Message);
        Assert.Equal(ImageDecodeError.Corrupt, e.Error); // libpng reports it as a decode failure, not by kind
    }

    [Fact]
    public void Decode_CorruptData_ThrowsCorrupt()
    {
        var png = SmallPng();
        var idat = TestPngWriter.FindChunk(png, "IDAT");
        png[idat + 8 + 3] ^= 0x5A;
        var e = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(png, PixelFormat.Png, new RgbImage()));
        Assert.Equal(ImageDecodeError.Corrupt, e.Error); // a chunk CRC that does not match
        Assert.StartsWith("could not decode the PNG", e.Message);

        // Bad filter byte with CRCs fixed up: still a clear corrupt-data error.
        var bad = TestPngWriter.Write(new byte[8 * 4 * 3], 8, 4, 3, y => y == 2 ? 7 : 0);
        var e2 = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(bad, PixelFormat.Png, new RgbImage()));
        Assert.Equal(ImageDecodeError.Corrupt, e2.Error);

        var garbage = new byte[300];
        new Random(3).NextBytes(garbage);
        Assert.Equal(ImageDecodeError.Corrupt, Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(garbage, PixelFormat.Png, new RgbImage())).Error);
    }

    private static byte[] SmallPng()
    {
        var pixels = new byte[16 * 12 * 3];
        new Random(9).NextBytes(pixels);
        return TestPngWriter.Write(pixels, 16, 12, 3, y => y % 5);
    }
}
