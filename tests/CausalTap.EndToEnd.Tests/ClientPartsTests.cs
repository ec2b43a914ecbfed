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

    [Theory]
    [InlineData("jpeg")]
    [InlineData("raw")]
    public void Imaging_source_delivers_frames_of_the_scaled_size(string formatName)
    {
        StreamImageFormat format = formatName == "raw" ? StreamImageFormat.Raw : StreamImageFormat.Jpeg;
        using IStreamFrameSource source = StreamFrameSources.Open("synthetic:160x120", format, scaleWidth: 80);
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
                Assert.Equal(0xD9, wire.Encoded.Data[^1]);
            }
            Assert.Equal((ulong)i, wire.Sequence);
        }
    }

    [Fact]
    public void A_camera_device_that_does_not_exist_is_a_clear_error()
    {
        // No V4L2 device exists on the CI machines: opening one must say which device and why, not crash.
        const string device = "/dev/video97";
        Assert.False(File.Exists(device));
        var e = Assert.Throws<VideoIOException>(() => StreamFrameSources.Open(device, StreamImageFormat.Jpeg));
        Assert.Contains(device, e.Message);
        Assert.Contains("V4L2", e.Message);
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
