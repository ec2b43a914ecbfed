using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using CausalTap.Episodes.Tests.TestSupport;
using CausalTap.Imaging;
using CausalTap.Protocol.V1;
using Google.Protobuf;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Episodes.Tests;

/// <summary>Recording a session and reading it back: with <see cref="EpisodeReader"/>, @mcap/core and python's protobuf.</summary>
[Collection(EpisodeCollection.Name)]
public sealed class EpisodeRecordingTests(EpisodeFixture fixture) : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private (string Path, List<Frame> Frames, List<TrackUpdate> Live) RecordJpegSession()
    {
        var path = _tmp.File("session.mcap");
        var frames = LiveSession.JpegFrames(fixture.Jpegs);
        var live = LiveSession.Record(path, frames, fixture.Model, TrackingMethod.Tapir, LiveSession.Script);
        return (path, frames, live);
    }

    [Fact]
    public void RecordedSession_ReadsBackAsTheSameFramesCommandsAndUpdatesInOrder()
    {
        var (path, frames, live) = RecordJpegSession();

        using var reader = EpisodeReader.Open(path);
        Assert.Equal(LiveSession.Metadata(), reader.Metadata);
        var events = reader.ReadEvents().ToList();
        Assert.False(reader.IsTruncated);

        // File order: commands recorded before their frame (or just after its update, for the late ones), then the
        // frame with its update.
        var kinds = string.Concat(events.Select(e => e switch { EpisodeFrame => "F", EpisodeCommand => "C", EpisodeUpdate => "U", _ => "?" }));
        Assert.Equal("CFU" + "FU" + "FU" + "FUC" + "FU" + "FUC" + "CFU" + "FU" + "FU" + "FU", kinds);

        var readFrames = events.OfType<EpisodeFrame>().ToList();
        Assert.Equal(Enumerable.Range(0, frames.Count).Select(i => (long)i), readFrames.Select(f => f.FrameIndex));
        for (var k = 0; k < frames.Count; k++)
        {
            Assert.Equal(frames[k].Encoded.Data, readFrames[k].Frame.Encoded.Data);
            Assert.Equal("jpeg", readFrames[k].Frame.Encoded.Format);
            Assert.Equal(frames[k].CaptureTimeNs, readFrames[k].CaptureTimeNs);
            Assert.Equal(frames[k].CaptureTimeNs + 2_000_000, readFrames[k].ReceiveTimeNs);
        }

        var commands = events.OfType<EpisodeCommand>().Select(c => c.Command).ToList();
        Assert.Equal(4, commands.Count);
        Assert.Equal(new long[] { 0, 3, 5, 6 }, commands.Select(c => c.FrameIndex));
        Assert.Equal(new uint[] { 1, 2, 3 }, commands[0].Added.PointIds);
        Assert.Equal(new[] { 40.5f, 80f, 120f }, commands[0].Added.Points.Select(p => p.X));
        Assert.Equal(new uint[] { 4 }, commands[1].Added.PointIds);
        Assert.Equal(new uint[] { 2 }, commands[2].Removed.PointIds);
        Assert.Empty(commands[2].Removed.Unknown);
        Assert.Equal(new uint[] { 99 }, commands[3].Removed.Unknown);

        Assert.Equal(live, events.OfType<EpisodeUpdate>().Select(u => u.Update));
    }

    [Fact]
    public void RawFrames_RecordAsFoxgloveRawImageAndReadBackWithTheirStride()
    {
        var path = _tmp.File("raw.mcap");
        var frames = RawFrames(4, Protocol.V1.PixelFormat.Bgr8, padding: 7);
        frames.Add(RawFrames(1, Protocol.V1.PixelFormat.Gray8, padding: 0)[0]);
        LiveSession.Record(path, frames, fixture.Model, TrackingMethod.Tapir, [new(0, Add: [(10f, 10f)])]);

        using var reader = EpisodeReader.Open(path);
        var read = reader.ReadEvents().OfType<EpisodeFrame>().ToList();
        Assert.Equal(5, read.Count);
        for (var k = 0; k < 5; k++)
        {
            var raw = read[k].Frame.Raw;
            var expected = frames[k].Raw;
            Assert.Equal((expected.Width, expected.Height, expected.PixelFormat), (raw.Width, raw.Height, raw.PixelFormat));
            Assert.Equal(expected.Stride, raw.Stride);
            // The unpadded last row of the wire frame is padded to step * height for Foxglove; pixels are unchanged.
            Assert.Equal(raw.Stride * raw.Height, (uint)raw.Data.Length);
            Assert.True(raw.Data.Span[..expected.Data.Length].SequenceEqual(expected.Data.Span));
        }
    }

    [Fact]
    public void IndependentMcapReader_SeesSchemasChannelsCountsAndMetadata()
    {
        var (path, frames, _) = RecordJpegSession();

        var json = McapNode.Read(path);
        foreach (var view in new[] { "stream", "indexed" })
        {
            var r = json.GetProperty(view);
            Assert.True(r.GetProperty("ok").GetBoolean(), r.GetProperty("error").ToString());
            var schemas = r.GetProperty("schemas").EnumerateObject().Select(s => s.Value).ToList();
            Assert.All(schemas, s => Assert.Equal("protobuf", s.GetProperty("encoding").GetString()));
            Assert.Equal(new[] { "causaltap.v1.PointCommand", "causaltap.v1.TrackUpdate", "foxglove.CompressedImage", "foxglove.ImageAnnotations" },
                         schemas.Select(s => s.GetProperty("name").GetString()).Order(StringComparer.Ordinal));
            var channels = r.GetProperty("channels").EnumerateObject().Select(c => c.Value).ToList();
            Assert.All(channels, c => Assert.Equal("protobuf", c.GetProperty("messageEncoding").GetString()));
            var countByTopic = channels.ToDictionary(c => c.GetProperty("topic").GetString()!,
                c => r.GetProperty("perChannel").GetProperty(c.GetProperty("id").GetInt32().ToString(CultureInfo.InvariantCulture)).GetProperty("count").GetInt32());
            Assert.Equal(new Dictionary<string, int>
            {
                ["/camera/image"] = frames.Count,
                ["/tracker/commands"] = 4,
                ["/tracker/updates"] = frames.Count,
                ["/tracker/annotations"] = frames.Count,
            }, countByTopic);
            var metadata = Assert.Single(r.GetProperty("metadata").EnumerateArray());
            Assert.Equal("causaltap.episode", metadata.GetProperty("name").GetString());
            Assert.Equal("wrist_left", metadata.GetProperty("metadata").GetProperty("camera_id").GetString());
            Assert.Equal("causaltap-default", metadata.GetProperty("metadata").GetProperty("model").GetString());
        }
        var indexed = json.GetProperty("indexed");
        Assert.True(indexed.GetProperty("summaryCrcValidated").GetBoolean());
        Assert.True(indexed.GetProperty("dataSectionCrcValid").GetBoolean());
        Assert.Equal(1, indexed.GetProperty("statistics").GetProperty("metadataCount").GetInt32());
        Assert.Equal((3 * frames.Count + 4).ToString(CultureInfo.InvariantCulture), indexed.GetProperty("statistics").GetProperty("messageCount").GetString()); // u64: a string
    }

    [Fact]
    public void Python_DecodesAMessageOfEveryChannelFromTheFilesOwnDescriptorSets()
    {
        var (path, frames, live) = RecordJpegSession();
        var samples = _tmp.File("samples.json");
        File.WriteAllText(samples, McapNode.Read(path, samples: true).GetRawText());

        using var decoded = JsonDocument.Parse(EpisodeFixture.Python(Path.Combine(McapNode.Folder, "decode_samples.py"), samples));
        var root = decoded.RootElement;

        var image = root.GetProperty("/camera/image|foxglove.CompressedImage");
        Assert.Equal(new[] { "google/protobuf/timestamp.proto", "foxglove/CompressedImage.proto" }, Files(image));
        var img = image.GetProperty("message");
        Assert.Equal("jpeg", img.GetProperty("format").GetString());
        Assert.Equal("wrist_left", img.GetProperty("frame_id").GetString());
        Assert.Equal(frames[0].Encoded.Data.Length, img.GetProperty("data").GetProperty("length").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(frames[0].Encoded.Data.Span)), img.GetProperty("data").GetProperty("sha256").GetString());
        // JSON form of google.protobuf.Timestamp: RFC 3339 with nanoseconds.
        var capture = DateTimeOffset.UnixEpoch.AddTicks(frames[0].CaptureTimeNs / 100);
        Assert.Equal(capture.UtcDateTime, DateTime.Parse(img.GetProperty("timestamp").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal));

        var command = root.GetProperty("/tracker/commands|causaltap.v1.PointCommand");
        Assert.Equal(new[] { "causaltap/v1/tracker.proto", "causaltap/v1/episode.proto" }, Files(command));
        var added = command.GetProperty("message").GetProperty("added");
        Assert.Equal(new[] { 1, 2, 3 }, added.GetProperty("point_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(30.25, added.GetProperty("points")[0].GetProperty("y").GetDouble());

        var update = root.GetProperty("/tracker/updates|causaltap.v1.TrackUpdate").GetProperty("message");
        Assert.Equal("0", update.GetProperty("frame_index").GetString()); // int64 is a string in protobuf's JSON
        Assert.Equal(live[0].Sequence.ToString(CultureInfo.InvariantCulture), update.GetProperty("sequence").GetString());
        var points = update.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(live[0].Points.Select(p => (int)p.Id), points.Select(p => p.GetProperty("id").GetInt32()));
        Assert.Equal(live[0].Points[1].X, (float)points[1].GetProperty("x").GetDouble());

        var annotations = root.GetProperty("/tracker/annotations|foxglove.ImageAnnotations");
        Assert.Equal(new[] { "foxglove/Color.proto", "foxglove/Point2.proto", "google/protobuf/timestamp.proto", "foxglove/CircleAnnotation.proto",
                             "foxglove/PointsAnnotation.proto", "foxglove/TextAnnotation.proto", "foxglove/ImageAnnotations.proto" }, Files(annotations));
        var circles = annotations.GetProperty("message").GetProperty("circles").EnumerateArray().ToList();
        Assert.Equal(3, circles.Count);
        Assert.Equal(live[0].Points[2].Y, (float)circles[2].GetProperty("position").GetProperty("y").GetDouble());
        Assert.Equal(img.GetProperty("timestamp").GetString(), circles[0].GetProperty("timestamp").GetString());
        var texts = annotations.GetProperty("message").GetProperty("texts").EnumerateArray().Select(t => t.GetProperty("text").GetString());
        Assert.Equal(new[] { "1", "2", "3" }, texts);
    }

    [Fact]
    public void Catalog_SummarizesFromTheSummaryAndByScanningACutFile()
    {
        var (path, frames, _) = RecordJpegSession();

        var summary = EpisodeCatalog.Summarize(path);
        Assert.Equal(frames.Count, summary.Frames);
        Assert.Equal(new FileInfo(path).Length, summary.SizeBytes);
        Assert.Equal(LiveSession.Metadata(), summary.Metadata);
        Assert.Equal(LiveSession.StartNs + 1_000_000, summary.StartTimeNs);     // the first command's log time
        Assert.Equal(frames[^1].CaptureTimeNs + 7_000_000, summary.EndTimeNs);  // the last update's publish time

        // The same file without its summary (the last 200 bytes cut: footer and part of the summary) is scanned and
        // says the same.
        var bytes = File.ReadAllBytes(path);
        var cut = _tmp.File("cut.mcap");
        File.WriteAllBytes(cut, bytes[..(bytes.Length - 200)]);
        using (var complete = File.OpenRead(path))
        using (var truncated = File.OpenRead(cut))
        {
            Assert.NotNull(McapSummary.TryRead(complete)?.Statistics);
            Assert.Null(McapSummary.TryRead(truncated));
        }
        var scanned = EpisodeCatalog.Summarize(cut);
        Assert.Equal(summary with { Path = cut, SizeBytes = bytes.Length - 200 }, scanned);
    }

    [Fact]
    public void FileDescriptorSets_AreSelfContainedAndDependenciesFirst()
    {
        var set = Google.Protobuf.Reflection.FileDescriptorSet.Parser.ParseFrom(EpisodeSchemas.FileDescriptorSet(Protocol.Foxglove.ImageAnnotations.Descriptor));
        var names = set.File.Select(f => f.Name).ToList();
        Assert.Equal(names.Distinct().Count(), names.Count);
        for (var i = 0; i < set.File.Count; i++)
        {
            Assert.All(set.File[i].Dependency, d => Assert.Contains(d, names.Take(i)));
        }
        Assert.Equal("foxglove/ImageAnnotations.proto", names[^1]);
    }

    [Fact]
    public async Task Recorder_TakesConcurrentWritersAndKeepsEveryMessage()
    {
        var path = _tmp.File("concurrent.mcap");
        const int perWriter = 200;
        using (var recorder = EpisodeRecorder.Create(path, LiveSession.Metadata(), new McapWriterOptions { ChunkSize = 8 << 10 }))
        {
            var jpeg = ByteString.CopyFrom(fixture.Jpegs[0]);
            var frames = Task.Run(() =>
            {
                for (var k = 0; k < perWriter; k++)
                {
                    recorder.WriteFrame(k, new Frame { CaptureTimeNs = LiveSession.StartNs + k, Encoded = new EncodedImage { Data = jpeg } }, LiveSession.StartNs + k);
                }
            });
            var updates = Task.Run(() =>
            {
                for (var k = 0; k < perWriter; k++)
                {
                    recorder.WriteUpdate(new TrackUpdate { FrameIndex = k, PublishTimeNs = LiveSession.StartNs + k, Points = { new PointState { Id = 1, X = k } } });
                }
            });
            var commands = Task.Run(() =>
            {
                for (var k = 0; k < perWriter; k++)
                {
                    recorder.WritePointsRemoved(k, new RemovePointsRequest(), new RemovePointsResponse { Unknown = { (uint)k } }, LiveSession.StartNs + k);
                }
            });
            await Task.WhenAll(frames, updates, commands);
        }

        using var reader = EpisodeReader.Open(path);
        var events = reader.ReadEvents().ToList();
        Assert.False(reader.IsTruncated);
        // Each writer's messages arrive whole and in its own order; "format" was sniffed from the JPEG bytes.
        Assert.Equal(Enumerable.Range(0, perWriter).Select(k => (long)k), events.OfType<EpisodeFrame>().Select(f => f.FrameIndex));
        Assert.All(events.OfType<EpisodeFrame>(), f => Assert.Equal("jpeg", f.Frame.Encoded.Format));
        Assert.Equal(Enumerable.Range(0, perWriter).Select(k => (float)k), events.OfType<EpisodeUpdate>().Select(u => u.Update.Points[0].X));
        Assert.Equal(Enumerable.Range(0, perWriter).Select(k => (uint)k), events.OfType<EpisodeCommand>().Select(c => c.Command.Removed.Unknown[0]));
    }

    private static string[] Files(JsonElement channel) => channel.GetProperty("files").EnumerateArray().Select(e => e.GetString()!).ToArray();

    private List<Frame> RawFrames(int count, Protocol.V1.PixelFormat format, int padding)
    {
        var list = new List<Frame>();
        for (var k = 0; k < count; k++)
        {
            using var rgb = fixture.Decode(k);
            var bpp = format == Protocol.V1.PixelFormat.Gray8 ? 1 : 3;
            var stride = rgb.Width * bpp + padding;
            // The wire allows an unpadded last row: stride * (height - 1) + width * bpp bytes.
            var data = new byte[stride * (rgb.Height - 1) + rgb.Width * bpp];
            for (var y = 0; y < rgb.Height; y++)
            {
                var row = rgb.Row(y);
                for (var x = 0; x < rgb.Width; x++)
                {
                    var (r, g, b) = (row[3 * x], row[3 * x + 1], row[3 * x + 2]);
                    if (bpp == 1)
                    {
                        data[y * stride + x] = (byte)((r + g + b) / 3);
                    }
                    else
                    {
                        data[y * stride + 3 * x] = b;
                        data[y * stride + 3 * x + 1] = g;
                        data[y * stride + 3 * x + 2] = r;
                    }
                }
            }
            list.Add(new Frame
            {
                CaptureTimeNs = LiveSession.StartNs + k * LiveSession.FrameIntervalNs,
                Sequence = (ulong)k,
                Raw = new RawImage { Width = (uint)rgb.Width, Height = (uint)rgb.Height, Stride = (uint)stride, PixelFormat = format, Data = ByteString.CopyFrom(data) },
            });
        }
        return list;
    }
}
