using CausalTap.Imaging.Tests.TestSupport;
using CausalTap.Imaging.Video;
using Xunit.Abstractions;

namespace CausalTap.Imaging.Tests;

public sealed class VideoTests(ITestOutputHelper output)
{
    [Fact]
    public void WriteThenRead_RoundTripsSizeCountAndApproximatePixels()
    {
        using var tmp = new TempDir();
        var path = tmp.File("synthetic.mp4");
        const int w = 96, h = 64, n = 12;
        using (var writer = new VideoWriter(path, w, h, framesPerSecond: 15))
        {
            output.WriteLine($"encoder: {writer.Codec}");
            using var frame = new RgbImage(w, h);
            for (var k = 0; k < n; k++)
            {
                Paint(frame, k);
                writer.WriteFrame(frame);
            }
            writer.Complete();
            Assert.Equal(n, writer.FramesWritten);
        }

        var info = VideoInfo.Probe(path);
        Assert.Equal((w, h), (info.Width, info.Height));
        Assert.Equal(n, info.FrameCount);
        Assert.Equal(15, info.FramesPerSecond, 3);

        using var reader = VideoReader.Open(path);
        using var got = new RgbImage();
        using var expected = new RgbImage(w, h);
        var count = 0;
        while (reader.TryReadFrame(got))
        {
            Paint(expected, count);
            var mean = MeanAbsDiff(got, expected);
            Assert.True(mean < 8, $"frame {count}: mean abs difference {mean:F2} (lossy codec, but should be close)");
            count++;
        }
        Assert.Equal(n, count);
        Assert.Equal(n, reader.FramesRead);
        Assert.False(reader.TryReadFrame(got));
    }

    [Theory]
    [InlineData("odd.avi")]
    [InlineData("odd.mp4")]
    public void Writer_OddSize_IsPaddedToEven_NotCropped(string name)
    {
        using var tmp = new TempDir();
        var path = tmp.File(name);
        using (var writer = new VideoWriter(path, 33, 21, 10))
        {
            Assert.Equal((34, 22), (writer.EncodedWidth, writer.EncodedHeight));
            using var frame = new RgbImage(33, 21);
            frame.Row(20).Fill(200); // the last row must survive
            writer.WriteFrame(frame);
            writer.WriteFrame(frame);
            writer.Complete();
        }
        var info = VideoInfo.Probe(path);
        Assert.Equal((34, 22, 2), (info.Width, info.Height, info.FrameCount));
        using var reader = VideoReader.Open(path);
        using var got = new RgbImage();
        Assert.True(reader.TryReadFrame(got));
        Assert.InRange(got.Row(20)[16 * 3], 150, 255);
        Assert.InRange(got.Row(21)[16 * 3], 150, 255); // padding repeats the last row
        Assert.InRange(got.Row(10)[16 * 3], 0, 50);
    }

    [SharedDataFact("robot_real/robomimic_can_real.mp4")]
    public void ReadsRealRobotClip()
    {
        var path = Path.Combine(Requirements.SharedData!, "robot_real/robomimic_can_real.mp4");
        using var reader = VideoReader.Open(path);
        output.WriteLine($"{reader.Info}");
        using var frame = new RgbImage();
        using var first = new RgbImage();
        var count = 0;
        var changed = false;
        while (reader.TryReadFrame(frame))
        {
            if (count == 0)
            {
                frame.CopyTo(first);
            }
            else
            {
                changed |= MeanAbsDiff(frame, first) > 1;
            }
            count++;
        }
        Assert.Equal(reader.FrameCount, count);
        Assert.True(count > 10);
        Assert.True(changed, "frames differ over the clip");
        Assert.Equal((reader.Width, reader.Height), (frame.Width, frame.Height));
    }

    [Fact]
    public void MissingOrUnreadableFile_IsClearError()
    {
        var missing = Assert.Throws<VideoIOException>(() => VideoReader.Open("/nonexistent/clip.mp4"));
        Assert.Contains("does not exist", missing.Message);

        using var tmp = new TempDir();
        var junk = tmp.File("junk.mp4");
        File.WriteAllBytes(junk, Enumerable.Range(0, 4096).Select(i => (byte)(i * 31)).ToArray());
        var bad = Assert.Throws<VideoIOException>(() => VideoReader.Open(junk));
        output.WriteLine(bad.Message);
        Assert.Contains("junk.mp4", bad.Message);

        Assert.Throws<VideoIOException>(() => new VideoWriter(tmp.File("no/such/dir/out.mp4"), 16, 16, 10));
    }

    [Fact]
    public void Writer_RefusesAnExtensionItHasNoCodecFor_AndAFrameOfTheWrongSize()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<VideoIOException>(() => new VideoWriter(tmp.File("x.mkv"), 16, 16, 10));
        Assert.Contains("no codec for '.mkv'", e.Message);
        using var writer = new VideoWriter(tmp.File("y.mp4"), 16, 16, 10);
        using var frame = new RgbImage(8, 8);
        var a = Assert.Throws<ArgumentException>(() => writer.WriteFrame(frame));
        Assert.Contains("frame is 8x8, the video is 16x16", a.Message);
    }

    [Fact]
    public void OpenCvRuntime_LoadsAndReportsItsVersion()
    {
        OpenCvRuntime.EnsureLoaded();
        output.WriteLine($"OpenCV {OpenCvRuntime.Version}");
        Assert.StartsWith("4.", OpenCvRuntime.Version);
    }

    /// <summary>Frame k: smooth gradients plus a block that moves with k (large flat areas survive yuv420p well).</summary>
    private static void Paint(RgbImage img, int k)
    {
        for (var y = 0; y < img.Height; y++)
        {
            var row = img.Row(y);
            for (var x = 0; x < img.Width; x++)
            {
                var inBlock = x >= 4 * k && x < 4 * k + 16 && y >= 20 && y < 40;
                row[x * 3] = inBlock ? (byte)230 : (byte)(x * 2);
                row[x * 3 + 1] = inBlock ? (byte)40 : (byte)(y * 3);
                row[x * 3 + 2] = inBlock ? (byte)40 : (byte)(100 + k * 5);
            }
        }
    }

    private static double MeanAbsDiff(RgbImage a, RgbImage b)
    {
        long sum = 0;
        for (var y = 0; y < a.Height; y++)
        {
            var ra = a.Row(y);
            var rb = b.Row(y);
            for (var i = 0; i < ra.Length; i++)
            {
                sum += Math.Abs(ra[i] - rb[i]);
            }
        }
        return (double)sum / (a.Width * a.Height * 3);
    }
}
