using CausalTap.Imaging.Tests.TestSupport;
using CausalTap.Imaging.Video;

namespace CausalTap.Imaging.Tests;

public sealed class FrameDirectoryReaderTests
{
    [PythonFact]
    public void ReadsJpegAndPngFramesInNaturalNameOrder()
    {
        using var tmp = new TempDir();
        const int w = 40, h = 30;
        // Three frames, distinguishable by content; names chosen so that ordinal order would be wrong.
        string[] names = ["frame10.png", "frame2.jpg", "frame1.png"];
        var expectedOrder = new[] { "frame1.png", "frame2.jpg", "frame10.png" };
        var reference = new Dictionary<string, byte[]>();
        for (var i = 0; i < names.Length; i++)
        {
            RefPeer.Synth(tmp.File($"s{i}.rgb"), w, h, seed: 100 + i);
            var file = tmp.File(names[i]);
            if (file.EndsWith(".png"))
            {
                RefPeer.Run("png", tmp.File($"s{i}.rgb"), w, h, "RGB", file);
            }
            else
            {
                RefPeer.Run("jpeg", tmp.File($"s{i}.rgb"), w, h, file, 90, 2, "pil");
            }
            reference[names[i]] = File.ReadAllBytes(file + ".ref.rgb");
            File.Delete(file + ".ref.rgb");
        }
        File.WriteAllText(tmp.File("notes.txt"), "not a frame");

        using var reader = new FrameDirectoryReader(tmp.Path);
        Assert.Equal(expectedOrder, reader.Files.Select(Path.GetFileName));
        Assert.Equal((w, h, 3), (reader.Width, reader.Height, reader.FrameCount));
        using var image = new RgbImage();
        var k = 0;
        while (reader.TryReadFrame(image))
        {
            var name = Path.GetFileName(reader.CurrentFile!);
            Assert.Equal(expectedOrder[k], name);
            Assert.True(Pixels.Diff(image, reference[name]).Max <= 1, name);
            k++;
        }
        Assert.Equal(3, k);
    }

    [SharedDataFact("everyday_real/tum_rgbd_fr2_20f")]
    public void ReadsRealFrameFolder()
    {
        using var source = FrameSource.Open(Path.Combine(Requirements.SharedData!, "everyday_real/tum_rgbd_fr2_20f"));
        using var image = new RgbImage();
        var n = 0;
        while (source.TryReadFrame(image))
        {
            n++;
        }
        Assert.Equal(source.FrameCount, n);
        Assert.True(n >= 20);
        Assert.Equal((source.Width, source.Height), (image.Width, image.Height));
    }

    [Fact]
    public void MissingOrEmptyFolder_IsClearError()
    {
        Assert.Contains("does not exist", Assert.Throws<VideoIOException>(() => new FrameDirectoryReader("/nonexistent/frames")).Message);
        using var tmp = new TempDir();
        Assert.Contains("no .jpg", Assert.Throws<VideoIOException>(() => new FrameDirectoryReader(tmp.Path)).Message);
        File.WriteAllBytes(tmp.File("0001.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 0, 16]);
        var e = Assert.Throws<ImageDecodeException>(() => new FrameDirectoryReader(tmp.Path));
        Assert.Contains("0001.jpg", e.Message);
    }

    [Theory]
    [InlineData("frame2.jpg", "frame10.jpg", -1)]
    [InlineData("00010.jpg", "00009.jpg", 1)]
    [InlineData("a.png", "b.png", -1)]
    [InlineData("img_1_5.png", "img_1_10.png", -1)]
    [InlineData("same.jpg", "same.jpg", 0)]
    public void NaturalCompare_OrdersDigitRunsByValue(string a, string b, int sign)
    {
        Assert.Equal(sign, Math.Sign(FrameDirectoryReader.NaturalCompare(a, b)));
    }
}
