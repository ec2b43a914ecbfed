using System.Text;
using System.Text.Json;
using CausalTap.Cli;
using CausalTap.EndToEnd.Tests.TestSupport;
using CausalTap.Imaging;
using CausalTap.Imaging.Video;
using CausalTap.Protocol.V1;

namespace CausalTap.EndToEnd.Tests;

/// <summary>The client side of `causaltap stream` / `subscribe`, without a server.</summary>
public sealed class ClientPartsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("causaltap-client-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] FfmpegOutput(params string[] args)
    {
        E2EEnvironment.RequireFfmpeg();
        var info = new System.Diagnostics.ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])["-v", "error", "-nostdin", .. args]) info.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(info)!;
        var output = new MemoryStream();
        Task copy = p.StandardOutput.BaseStream.CopyToAsync(output);
        string err = p.StandardError.ReadToEnd();
        copy.Wait();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"ffmpeg failed: {err}");
        return output.ToArray();
    }

    private static byte[] MjpegStream(int frames, int width, int height) =>
        FfmpegOutput("-f", "lavfi", "-i", $"testsrc2=size={width}x{height}:rate=30", "-frames:v", frames.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-f", "image2pipe", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-");

    [Fact]
    public void JpegSplitter_returns_each_frame_of_an_mjpeg_pipe_and_its_size()
    {
        byte[] stream = MjpegStream(5, 96, 64);
        using var input = new MemoryStream(stream);
        using var decoder = new JpegDecoder();
        using var image = new RgbImage();
        var total = 0L;
        for (int i = 0; i < 5; i++)
        {
            byte[]? jpeg = JpegStreamSplitter.ReadNext(input, out int w, out int h);
            Assert.NotNull(jpeg);
            Assert.Equal((96, 64), (w, h));
            Assert.Equal((0xFF, 0xD8), (jpeg[0], jpeg[1]));
            Assert.Equal((0xFF, 0xD9), (jpeg[^2], jpeg[^1]));
            decoder.Decode(jpeg, image);
            Assert.Equal((96, 64), (image.Width, image.Height));
            total += jpeg.Length;
        }
        Assert.Null(JpegStreamSplitter.ReadNext(input, out _, out _));
        Assert.Equal(stream.Length, total);
    }

    [Fact]
    public void JpegSplitter_is_not_fooled_by_an_end_marker_inside_a_segment()
    {
        byte[] original = JpegStreamSplitter.ReadNext(new MemoryStream(MjpegStream(1, 32, 32)), out _, out _)!;
        // An APP1 segment whose payload is FF D9 FF D9: a splitter that searches for FF D9 would cut here.
        byte[] app1 = [0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0xFF, 0xD9];
        byte[] tricky = [.. original[..2], .. app1, .. original[2..]];
        using var input = new MemoryStream([.. tricky, .. tricky]);
        Assert.Equal(tricky, JpegStreamSplitter.ReadNext(input, out int w, out _));
        Assert.Equal(32, w);
        Assert.Equal(tricky, JpegStreamSplitter.ReadNext(input, out _, out _));
        Assert.Null(JpegStreamSplitter.ReadNext(input, out _, out _));
    }

    [Fact]
    public void JpegSplitter_rejects_truncated_and_foreign_data()
    {
        byte[] jpeg = JpegStreamSplitter.ReadNext(new MemoryStream(MjpegStream(1, 32, 32)), out _, out _)!;
        Assert.Throws<VideoIOException>(() => JpegStreamSplitter.ReadNext(new MemoryStream(jpeg[..^10]), out _, out _));
        Assert.Throws<VideoIOException>(() => JpegStreamSplitter.ReadNext(new MemoryStream(Encoding.ASCII.GetBytes("P6 not a jpeg")), out _, out _));
    }

    [Fact]
    public void PpmReader_reads_back_to_back_images_with_comments()
    {
        byte[] first = [.. Encoding.ASCII.GetBytes("P6\n# made by a test\n2 1\n255\n"), 1, 2, 3, 4, 5, 6];
        byte[] second = [.. Encoding.ASCII.GetBytes("P6 1 2 255 "), 9, 8, 7, 6, 5, 4];
        using var input = new MemoryStream([.. first, .. second]);
        PpmStreamReader.Image? a = PpmStreamReader.ReadNext(input);
        PpmStreamReader.Image? b = PpmStreamReader.ReadNext(input);
        Assert.Equal((2, 1), (a!.Width, a.Height));
        Assert.Equal([1, 2, 3, 4, 5, 6], a.Pixels);
        Assert.Equal((1, 2), (b!.Width, b.Height));
        Assert.Equal([9, 8, 7, 6, 5, 4], b.Pixels);
        Assert.Null(PpmStreamReader.ReadNext(input));
        Assert.Throws<VideoIOException>(() => PpmStreamReader.ReadNext(new MemoryStream(first[..^2])));
        Assert.Throws<VideoIOException>(() => PpmStreamReader.ReadNext(new MemoryStream(Encoding.ASCII.GetBytes("P6 2 1 65535 "))));
    }

    [Theory]
    [InlineData("jpeg")]
    [InlineData("raw")]
    public void Ffmpeg_source_delivers_frames_of_the_scaled_size(string formatName)
    {
        StreamImageFormat format = formatName == "raw" ? StreamImageFormat.Raw : StreamImageFormat.Jpeg;
        E2EEnvironment.RequireFfmpeg();
        using IStreamFrameSource source = StreamFrameSources.Open("lavfi:testsrc2=size=160x120:rate=30", format, scaleWidth: 80);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(source.TryRead(out SourceFrame frame));
            Assert.Equal((80, 60), (frame.Width, frame.Height));
            Frame wire = frame.ToFrame("s1", 123, (ulong)i);
            if (format == StreamImageFormat.Raw)
            {
                Assert.Equal(80 * 60 * 3, wire.Raw.Data.Length);
                Assert.Equal(Protocol.V1.PixelFormat.Rgb8, wire.Raw.PixelFormat);
            }
            else
            {
                Assert.Equal("jpeg", wire.Encoded.Format);
                Assert.Equal(0xD8, wire.Encoded.Data[1]);
            }
            Assert.Equal((ulong)i, wire.Sequence);
        }
    }

    [Fact]
    public void Folder_source_sends_files_as_they_are_or_decodes_them_for_raw()
    {
        E2EEnvironment.RequireFfmpeg();
        FfmpegOutput("-f", "lavfi", "-i", "testsrc2=size=48x32:rate=30", "-frames:v", "3", Path.Combine(_dir, "f%02d.jpg"));
        string[] files = Directory.GetFiles(_dir, "*.jpg").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(3, files.Length);

        using (IStreamFrameSource jpeg = StreamFrameSources.Open(_dir, StreamImageFormat.Jpeg))
        {
            foreach (string file in files)
            {
                Assert.True(jpeg.TryRead(out SourceFrame frame));
                Assert.Equal(File.ReadAllBytes(file), frame.Data.ToByteArray());
                Assert.Equal(("jpeg", 48, 32), (frame.EncodedFormat, frame.Width, frame.Height));
            }
            Assert.False(jpeg.TryRead(out _));
        }
        using IStreamFrameSource raw = StreamFrameSources.Open(_dir, StreamImageFormat.Raw);
        Assert.True(raw.TryRead(out SourceFrame decoded));
        Assert.True(decoded.IsRaw);
        Assert.Equal(48 * 32 * 3, decoded.Data.Length);
    }

    [Fact]
    public void Point_list_parses_pairs_and_rejects_bad_ones()
    {
        Assert.True(PointList.TryParse("10,20; 30.5,40", out var points, out _));
        Assert.Equal([(10f, 20f), (30.5f, 40f)], points.Select(p => (p.X, p.Y)));
        Assert.False(PointList.TryParse("1,2,3", out _, out string? error));
        Assert.Contains("1,2,3", error);
        Assert.False(PointList.TryParse("nan,1", out _, out _));
        Assert.True(PointList.TryParse(null, out var none, out _));
        Assert.Empty(none);
    }

    [Fact]
    public void Grid_points_are_cell_centres()
    {
        var grid = PointList.Grid(2, 100, 50).Select(p => (p.X, p.Y)).ToArray();
        Assert.Equal([(25f, 12.5f), (75f, 12.5f), (25f, 37.5f), (75f, 37.5f)], grid);
    }

    [Theory]
    [InlineData("127.0.0.1:50051", false, "http://127.0.0.1:50051/")]
    [InlineData("localhost:443", true, "https://localhost/")]
    [InlineData("http://10.1.2.3:7000", false, "http://10.1.2.3:7000/")]
    public void Server_addresses_get_the_right_scheme(string server, bool tls, string expected)
    {
        Assert.Equal(expected, ServerConnection.ParseAddress(server, tls).ToString());
    }

    [Theory]
    [InlineData("justahost")]
    [InlineData("ftp://x:1")]
    public void Bad_server_addresses_are_refused(string server)
    {
        Assert.ThrowsAny<Exception>(() => ServerConnection.ParseAddress(server, tls: false));
    }

    private static TrackUpdate SampleUpdate(int points)
    {
        var u = new TrackUpdate
        {
            SessionId = "s1", FrameIndex = 3, Sequence = 7, CaptureTimeNs = 1_000_000, ReceiveTimeNs = 2_000_000,
            PublishTimeNs = 14_500_000, FrameWidth = 64, FrameHeight = 48, UpdatesSkipped = 2,
        };
        for (uint i = 1; i <= points; i++)
        {
            u.Points.Add(new PointState { Id = i, X = 10 * i, Y = 20.25f, Visible = i == 1, OcclusionProbability = 0.25f, Uncertainty = 0.5f });
        }
        return u;
    }

    [Fact]
    public void Update_line_shows_frame_latency_and_points()
    {
        string line = UpdateFormat.Line(SampleUpdate(2));
        Assert.Equal("frame 3 seq 7 latency 12.5 ms skipped 2 | 1:10.0,20.2,v 2:20.0,20.2,o", line);
    }

    [Fact]
    public void Csv_has_one_row_per_point_and_one_row_for_an_update_without_points()
    {
        var text = new StringWriter();
        UpdateWriter.WriteCsv(text, SampleUpdate(2));
        UpdateWriter.WriteCsv(text, SampleUpdate(0));
        string[] rows = text.ToString().TrimEnd().Split(Environment.NewLine);
        int columns = UpdateWriter.CsvHeader.Split(',').Length;
        Assert.Equal(3, rows.Length);
        Assert.All(rows, r => Assert.Equal(columns, r.Split(',').Length));
        Assert.Equal("3,7,1000000,2000000,14500000,12.500,2,2,20,20.25,0,0.25,0.5", rows[1]);
        Assert.EndsWith(",,,,,,", rows[2]);
    }

    [Fact]
    public void Jsonl_line_round_trips_the_fields()
    {
        using JsonDocument doc = JsonDocument.Parse(UpdateWriter.JsonLine(SampleUpdate(2)));
        JsonElement root = doc.RootElement;
        Assert.Equal(3, root.GetProperty("frame_index").GetInt64());
        Assert.Equal(12.5, root.GetProperty("latency_ms").GetDouble());
        Assert.Equal(2, root.GetProperty("points").GetArrayLength());
        JsonElement p = root.GetProperty("points")[1];
        Assert.Equal((2u, 20f, false), (p.GetProperty("id").GetUInt32(), p.GetProperty("x").GetSingle(), p.GetProperty("visible").GetBoolean()));
    }
}
