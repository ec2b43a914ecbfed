using System.Security.Cryptography;
using System.Text.Json;
using CausalTap.Episodes.Tests.TestSupport;

namespace CausalTap.Episodes.Tests;

public class McapWriterTests
{
    private const ulong T0 = 1_700_000_000_000_000_000;

    /// <summary>What a test wrote, per channel, to compare readers against.</summary>
    private sealed class Expected
    {
        public Dictionary<ushort, List<byte[]>> Payloads { get; } = [];
        public Dictionary<ushort, List<ulong>> LogTimes { get; } = [];

        public void Add(ushort channel, ulong logTime, byte[] data)
        {
            (Payloads.TryGetValue(channel, out var p) ? p : Payloads[channel] = []).Add(data);
            (LogTimes.TryGetValue(channel, out var t) ? t : LogTimes[channel] = []).Add(logTime);
        }

        public int Count => Payloads.Values.Sum(l => l.Count);

        public static string Sha256(IEnumerable<byte[]> payloads)
        {
            using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (var p in payloads)
            {
                h.AppendData(p);
            }
            return Convert.ToHexStringLower(h.GetHashAndReset());
        }
    }

    private static byte[] Bytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    /// <summary>Three schemas, four channels (two share a schema), like an episode: frames, commands, tracks, overlays.</summary>
    private static (McapWriter Writer, ushort[] Channels, byte[][] SchemaData) NewEpisodeWriter(Stream stream, McapWriterOptions options)
    {
        var rng = new Random(1);
        var schemaData = new[] { Bytes(rng, 300), Bytes(rng, 120), Bytes(rng, 64) };
        var w = new McapWriter(stream, options);
        var image = w.RegisterSchema("foxglove.CompressedImage", "protobuf", schemaData[0]);
        var track = w.RegisterSchema("causaltap.v1.TrackUpdate", "protobuf", schemaData[1]);
        var overlay = w.RegisterSchema("foxglove.ImageAnnotations", "protobuf", schemaData[2]);
        var channels = new[]
        {
            w.RegisterChannel(image, "/camera/image", metadata: new Dictionary<string, string> { ["frame_id"] = "cam0" }),
            w.RegisterChannel(track, "/tracks"),
            w.RegisterChannel(track, "/tracks/predicted"),
            w.RegisterChannel(overlay, "/overlay"),
        };
        return (w, channels, schemaData);
    }

    /// <summary>Writes <paramref name="count"/> messages round-robin over the channels, 1 ms apart.</summary>
    private static Expected WriteMessages(McapWriter w, ushort[] channels, int count, int seed = 2, Action<int>? after = null)
    {
        var rng = new Random(seed);
        var expected = new Expected();
        for (var i = 0; i < count; i++)
        {
            var ch = channels[i % channels.Length];
            var data = Bytes(rng, ch == channels[0] ? 200 + rng.Next(2000) : rng.Next(0, 120));
            var logTime = T0 + (ulong)i * 1_000_000;
            w.WriteMessage(ch, logTime, logTime - 500, data);
            expected.Add(ch, logTime, data);
            after?.Invoke(i);
        }
        return expected;
    }

    private static void AssertTallyMatches(JsonElement tally, Expected expected)
    {
        Assert.Equal(expected.Count, tally.GetProperty("messageCount").GetInt32());
        var perChannel = tally.GetProperty("perChannel");
        Assert.Equal(expected.Payloads.Count, perChannel.EnumerateObject().Count());
        foreach (var (channel, payloads) in expected.Payloads)
        {
            var c = perChannel.GetProperty(channel.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(payloads.Count, c.GetProperty("count").GetInt32());
            Assert.Equal(Expected.Sha256(payloads), c.GetProperty("sha256").GetString());
            Assert.Equal(expected.LogTimes[channel][0].ToString(System.Globalization.CultureInfo.InvariantCulture), c.GetProperty("firstLogTime").GetString());
            Assert.Equal(expected.LogTimes[channel][^1].ToString(System.Globalization.CultureInfo.InvariantCulture), c.GetProperty("lastLogTime").GetString());
        }
    }

    private static List<McapMessage> ReadWithCSharp(string path, out McapReader reader)
    {
        using var fs = File.OpenRead(path);
        reader = new McapReader(fs);
        return reader.ReadMessages().ToList();
    }

    private static void AssertMessagesMatch(IReadOnlyList<McapMessage> messages, Expected expected)
    {
        Assert.Equal(expected.Count, messages.Count);
        foreach (var g in messages.GroupBy(m => m.ChannelId))
        {
            Assert.Equal(expected.Payloads[g.Key].Count, g.Count());
            Assert.Equal(Expected.Sha256(expected.Payloads[g.Key]), Expected.Sha256(g.Select(m => m.Data.ToArray())));
            Assert.Equal(expected.LogTimes[g.Key], g.Select(m => m.LogTime));
            Assert.Equal(Enumerable.Range(0, g.Count()).Select(i => (uint)i), g.Select(m => m.Sequence));
            Assert.All(g, m => Assert.Equal(m.LogTime - 500, m.PublishTime));
        }
    }

    [Fact]
    public void RoundTrip_ThousandsOfMessages_ReadByMcapCoreIndexedAndStreamReaders()
    {
        using var tmp = new TempDir();
        var path = tmp.File("episode.mcap");
        Expected expected;
        byte[][] schemaData;
        int chunkCount;
        using (var fs = File.Create(path))
        {
            var (w, channels, sd) = NewEpisodeWriter(fs, new McapWriterOptions { ChunkSize = 64 * 1024 });
            schemaData = sd;
            using (w)
            {
                expected = WriteMessages(w, channels, 6000);
                w.Complete();
                chunkCount = w.ChunkCount;
                Assert.Equal(fs.Length, w.Position);
            }
        }
        Assert.True(chunkCount > 20, $"only {chunkCount} chunks");

        var json = McapNode.Read(path);
        var stream = json.GetProperty("stream");
        Assert.True(stream.GetProperty("ok").GetBoolean(), stream.GetProperty("error").ToString());
        Assert.True(stream.GetProperty("done").GetBoolean());
        Assert.True(stream.GetProperty("sawDataEnd").GetBoolean());
        Assert.True(stream.GetProperty("sawFooter").GetBoolean());
        Assert.Equal("causaltap", stream.GetProperty("profile").GetString());
        AssertTallyMatches(stream, expected);

        var indexed = json.GetProperty("indexed");
        Assert.True(indexed.GetProperty("ok").GetBoolean(), indexed.GetProperty("error").ToString());
        Assert.True(indexed.GetProperty("summaryCrcValidated").GetBoolean());
        Assert.True(indexed.GetProperty("dataSectionCrcValid").GetBoolean());
        Assert.True(indexed.GetProperty("logTimeOrdered").GetBoolean());
        Assert.Equal(chunkCount, indexed.GetProperty("chunkIndexCount").GetInt32());
        Assert.Equal([3, 4, 8, 11], indexed.GetProperty("summaryOffsetOpcodes").EnumerateArray().Select(e => e.GetInt32()));
        AssertTallyMatches(indexed, expected);

        var stats = indexed.GetProperty("statistics");
        Assert.Equal("6000", stats.GetProperty("messageCount").GetString());
        Assert.Equal(3, stats.GetProperty("schemaCount").GetInt32());
        Assert.Equal(4, stats.GetProperty("channelCount").GetInt32());
        Assert.Equal(chunkCount, stats.GetProperty("chunkCount").GetInt32());
        Assert.Equal(T0.ToString(System.Globalization.CultureInfo.InvariantCulture), stats.GetProperty("messageStartTime").GetString());
        Assert.Equal((T0 + 5999UL * 1_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture), stats.GetProperty("messageEndTime").GetString());
        Assert.Equal("1500", stats.GetProperty("channelMessageCounts").GetProperty("3").GetString());

        var names = new[] { "foxglove.CompressedImage", "causaltap.v1.TrackUpdate", "foxglove.ImageAnnotations" };
        foreach (var tally in new[] { stream, indexed })
        {
            for (var i = 0; i < 3; i++)
            {
                var s = tally.GetProperty("schemas").GetProperty((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
                Assert.Equal(names[i], s.GetProperty("name").GetString());
                Assert.Equal("protobuf", s.GetProperty("encoding").GetString());
                Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(schemaData[i])), s.GetProperty("dataSha256").GetString());
            }
            var channels = tally.GetProperty("channels");
            Assert.Equal("/camera/image", channels.GetProperty("0").GetProperty("topic").GetString());
            Assert.Equal("cam0", channels.GetProperty("0").GetProperty("metadata").GetProperty("frame_id").GetString());
            Assert.Equal(2, channels.GetProperty("2").GetProperty("schemaId").GetInt32());
            Assert.Equal("/tracks/predicted", channels.GetProperty("2").GetProperty("topic").GetString());
            Assert.Equal("protobuf", channels.GetProperty("3").GetProperty("messageEncoding").GetString());
        }

        var messages = ReadWithCSharp(path, out var reader);
        Assert.False(reader.IsTruncated);
        Assert.True(reader.DataSectionCrcValidated);
        Assert.True(reader.SummaryCrcValidated);
        Assert.Equal(chunkCount, reader.ChunkCount);
        Assert.Equal("causaltap", reader.Profile);
        Assert.Equal(3, reader.Schemas.Count);
        Assert.Equal(4, reader.Channels.Count);
        Assert.Equal("cam0", reader.Channels[0].Metadata["frame_id"]);
        AssertMessagesMatch(messages, expected);
    }

    [Fact]
    public void EmptyProfileAndNoMessages_IsAValidFile()
    {
        using var tmp = new TempDir();
        var path = tmp.File("empty.mcap");
        using (var w = new McapWriter(File.Create(path), new McapWriterOptions { Profile = "" }))
        {
            w.RegisterChannel(w.RegisterSchema("s", "protobuf", new byte[] { 1 }), "/unused");
        }
        var json = McapNode.Read(path);
        Assert.True(json.GetProperty("stream").GetProperty("done").GetBoolean());
        var indexed = json.GetProperty("indexed");
        Assert.True(indexed.GetProperty("ok").GetBoolean(), indexed.GetProperty("error").ToString());
        Assert.Equal("", indexed.GetProperty("profile").GetString());
        Assert.Equal(0, indexed.GetProperty("messageCount").GetInt32());
        Assert.Equal(0, indexed.GetProperty("chunkIndexCount").GetInt32());
        var messages = ReadWithCSharp(path, out var reader);
        Assert.Empty(messages);
        Assert.False(reader.IsTruncated);
    }

    [Fact]
    public void MaxChunkDuration_ClosesChunksByLogTime()
    {
        using var ms = new MemoryStream();
        using var w = new McapWriter(ms, new McapWriterOptions { MaxChunkDuration = TimeSpan.FromMilliseconds(10) }, leaveOpen: true);
        var ch = w.RegisterChannel(0, "/raw", "application/octet-stream");
        for (var i = 0; i < 100; i++)
        {
            w.WriteMessage(ch, T0 + (ulong)i * 1_000_000, T0, [(byte)i]); // 1 ms apart: a chunk every 10 messages
        }
        Assert.Equal(9, w.ChunkCount);
        w.Complete();
        Assert.Equal(10, w.ChunkCount);
        Assert.All(w.ChunkIndexes, ci => Assert.Equal(9_000_000UL, ci.MessageEndTime - ci.MessageStartTime));
    }

    [Fact]
    public void ChunkSize_ClosesChunksBySize()
    {
        using var ms = new MemoryStream();
        using var w = new McapWriter(ms, new McapWriterOptions { ChunkSize = 10_000, MaxChunkDuration = null }, leaveOpen: true);
        var ch = w.RegisterChannel(0, "/raw", "application/octet-stream");
        for (var i = 0; i < 100; i++)
        {
            w.WriteMessage(ch, T0 + (ulong)i * 1_000_000_000, T0, new byte[1000]);
        }
        w.Complete();
        Assert.Equal(10, w.ChunkCount); // ~1031 bytes a record: the 10th message passes 10 000 bytes
        Assert.All(w.ChunkIndexes, ci => Assert.InRange(ci.UncompressedSize, 10_000UL, 11_100UL));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MessageGroup_NeverStraddlesAChunkBoundary(bool grouped)
    {
        // A frame (1000 bytes) and its update + annotation (100 bytes each, 5 ms later), frames 7 ms apart; both
        // chunk limits (2000 bytes, 20 ms) fall inside groups again and again.
        using var ms = new MemoryStream();
        using var w = new McapWriter(ms, new McapWriterOptions { ChunkSize = 2000, MaxChunkDuration = TimeSpan.FromMilliseconds(20) }, leaveOpen: true);
        var image = w.RegisterChannel(0, "/camera/image");
        var update = w.RegisterChannel(0, "/tracker/updates");
        var annotations = w.RegisterChannel(0, "/tracker/annotations");
        const int groups = 60;
        for (var k = 0; k < groups; k++)
        {
            ulong t = T0 + (ulong)k * 7_000_000, done = t + 5_000_000;
            McapOutgoingMessage[] group = [new(image, t, t, new byte[1000], (uint)k), new(update, done, done, new byte[100], (uint)k), new(annotations, done, t, new byte[100], (uint)k)];
            if (grouped)
            {
                w.WriteMessageGroup(group);
            }
            else
            {
                foreach (var m in group)
                {
                    w.WriteMessage(m.ChannelId, m.LogTime, m.PublishTime, m.Data.Span, m.Sequence);
                }
            }
        }
        w.Complete();

        var split = Enumerable.Range(0, groups).Count(k =>
        {
            ulong t = T0 + (ulong)k * 7_000_000;
            return !w.ChunkIndexes.Any(ci => ci.MessageStartTime <= t && ci.MessageEndTime >= t + 5_000_000);
        });
        Assert.True(w.ChunkCount > 10, $"{w.ChunkCount} chunks: the limits were not exercised");
        if (grouped)
        {
            Assert.Equal(0, split);
        }
        else
        {
            Assert.True(split > 0, "message by message, some frame should have been cut from its update");
        }
        var reader = new McapReader(new MemoryStream(ms.ToArray()));
        Assert.Equal(3 * groups, reader.ReadMessages().Count());
    }

    [Fact]
    public void MessageGroup_ChecksEveryChannelBeforeWritingAny()
    {
        using var ms = new MemoryStream();
        using var w = new McapWriter(ms, leaveOpen: true);
        var ch = w.RegisterChannel(0, "/t");
        Assert.Throws<ArgumentException>(() => w.WriteMessageGroup([new(ch, T0, T0, new byte[] { 1 }), new((ushort)(ch + 1), T0, T0, new byte[] { 2 })]));
        w.WriteMessageGroup([]);
        w.Complete();
        Assert.Empty(new McapReader(new MemoryStream(ms.ToArray())).ReadMessages());
    }

    [Fact]
    public void FlushChunk_PutsMessagesOnTheStreamAtOnce()
    {
        using var ms = new MemoryStream();
        using var w = new McapWriter(ms, leaveOpen: true);
        var ch = w.RegisterChannel(0, "/raw", "application/octet-stream");
        w.WriteMessage(ch, T0, T0, [1, 2, 3]);
        var before = ms.Length;
        w.FlushChunk();
        Assert.True(ms.Length > before);
        Assert.Equal(w.Position, ms.Length);
        var reader = new McapReader(new MemoryStream(ms.ToArray()));
        var messages = reader.ReadMessages().ToList();
        Assert.True(reader.IsTruncated);
        Assert.Equal([1, 2, 3], Assert.Single(messages).Data.ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedAfterChunk_ReadsBackEveryCompleteChunk(bool cutBeforeMessageIndexes)
    {
        using var tmp = new TempDir();
        var path = tmp.File("full.mcap");
        const int chunks = 6, perChunk = 250;
        var cumulative = new List<int>();
        using (var fs = File.Create(path))
        {
            var (w, channels, _) = NewEpisodeWriter(fs, new McapWriterOptions { ChunkSize = 1 << 24, MaxChunkDuration = null });
            using (w)
            {
                WriteMessages(w, channels, chunks * perChunk, after: i =>
                {
                    if ((i + 1) % perChunk == 0)
                    {
                        w.FlushChunk();
                    }
                });
                Assert.Equal(chunks, w.ChunkCount);
            }
        }
        var full = File.ReadAllBytes(path);
        ChunkIndexesFromCSharp(full, out var indexes);

        // Expected messages are exactly those written in the first k+1 chunks (same seed, same order).
        for (var k = 0; k < chunks; k++)
        {
            var ci = indexes[k];
            var cut = (int)(ci.ChunkStartOffset + ci.ChunkLength + (cutBeforeMessageIndexes ? 0 : ci.MessageIndexLength));
            var truncated = tmp.File($"cut{k}.mcap");
            File.WriteAllBytes(truncated, full.AsSpan(0, cut).ToArray());
            var expected = ExpectedPrefix((k + 1) * perChunk);

            var json = McapNode.Read(truncated);
            var stream = json.GetProperty("stream");
            Assert.True(stream.GetProperty("ok").GetBoolean(), stream.GetProperty("error").ToString());
            Assert.True(stream.GetProperty("truncated").GetBoolean());
            Assert.False(stream.GetProperty("sawFooter").GetBoolean());
            AssertTallyMatches(stream, expected);
            Assert.False(json.GetProperty("indexed").GetProperty("ok").GetBoolean()); // no footer: the indexed reader must refuse

            var messages = ReadWithCSharp(truncated, out var reader);
            Assert.True(reader.IsTruncated);
            Assert.Equal(k + 1, reader.ChunkCount);
            AssertMessagesMatch(messages, expected);

            // A cut inside the next chunk (or inside the DataEnd/summary after the last) loses only that chunk.
            var midNext = cut + (k + 1 < chunks ? (int)indexes[k + 1].ChunkLength / 2 : 3);
            File.WriteAllBytes(truncated, full.AsSpan(0, midNext).ToArray());
            var partial = McapNode.Read(truncated).GetProperty("stream");
            Assert.True(partial.GetProperty("ok").GetBoolean(), partial.GetProperty("error").ToString());
            Assert.True(partial.GetProperty("truncated").GetBoolean());
            AssertTallyMatches(partial, expected);
            AssertMessagesMatch(ReadWithCSharp(truncated, out _), expected);
        }
    }

    private static Expected ExpectedPrefix(int count)
    {
        using var ms = new MemoryStream();
        var (w, channels, _) = NewEpisodeWriter(ms, new McapWriterOptions());
        using (w)
        {
            return WriteMessages(w, channels, count);
        }
    }

    private static void ChunkIndexesFromCSharp(byte[] file, out IReadOnlyList<McapChunkIndex> indexes)
    {
        // Rewrite the same file into memory to get the writer's chunk indexes (the writer is deterministic).
        using var ms = new MemoryStream();
        var (w, channels, _) = NewEpisodeWriter(ms, new McapWriterOptions { ChunkSize = 1 << 24, MaxChunkDuration = null });
        WriteMessages(w, channels, 1500, after: i =>
        {
            if ((i + 1) % 250 == 0)
            {
                w.FlushChunk();
            }
        });
        indexes = w.ChunkIndexes.ToList();
        w.Dispose();
        Assert.Equal(file, ms.ToArray());
    }

    [Fact]
    public void CorruptChunk_IsRejectedByBothReaders()
    {
        using var tmp = new TempDir();
        var path = tmp.File("corrupt.mcap");
        IReadOnlyList<McapChunkIndex> indexes;
        using (var fs = File.Create(path))
        {
            var (w, channels, _) = NewEpisodeWriter(fs, new McapWriterOptions { ChunkSize = 8 * 1024 });
            using (w)
            {
                WriteMessages(w, channels, 200);
                w.Complete();
                indexes = w.ChunkIndexes.ToList();
            }
        }
        var bytes = File.ReadAllBytes(path);
        var ci = indexes[1];
        bytes[(int)(ci.ChunkStartOffset + ci.ChunkLength - 5)] ^= 0x40; // inside the last message's payload
        File.WriteAllBytes(path, bytes);

        var json = McapNode.Read(path);
        Assert.False(json.GetProperty("stream").GetProperty("ok").GetBoolean());
        Assert.Contains("crc", json.GetProperty("stream").GetProperty("error").GetString()!, StringComparison.OrdinalIgnoreCase);
        Assert.False(json.GetProperty("indexed").GetProperty("ok").GetBoolean());
        Assert.Throws<InvalidDataException>(() => ReadWithCSharp(path, out _));
    }

    [Fact]
    public void WriterRefusesUseAfterComplete()
    {
        using var ms = new MemoryStream();
        var w = new McapWriter(ms, leaveOpen: true);
        var s = w.RegisterSchema("s", "protobuf", new byte[] { 1 });
        var ch = w.RegisterChannel(s, "/t");
        w.WriteMessage(ch, T0, T0, [1]);
        w.Complete();
        Assert.True(w.IsCompleted);
        var length = ms.Length;
        Assert.Throws<InvalidOperationException>(() => w.WriteMessage(ch, T0 + 1, T0, [2]));
        Assert.Throws<InvalidOperationException>(() => w.RegisterSchema("t", "protobuf", new byte[] { 1 }));
        Assert.Throws<InvalidOperationException>(() => w.RegisterChannel(s, "/u"));
        Assert.Throws<InvalidOperationException>(w.FlushChunk);
        Assert.Throws<InvalidOperationException>(w.Complete);
        w.Dispose(); // fine after Complete, writes nothing more
        Assert.Equal(length, ms.Length);
        Assert.Throws<ObjectDisposedException>(() => w.WriteMessage(ch, T0 + 1, T0, [2]));
    }

    [Fact]
    public void UnknownChannelOrSchemaId_Throws()
    {
        using var ms = new MemoryStream();
        using var w = new McapWriter(ms, leaveOpen: true);
        Assert.Throws<ArgumentException>(() => w.WriteMessage(0, T0, T0, [1]));
        var s = w.RegisterSchema("s", "protobuf", new byte[] { 1 });
        Assert.Throws<ArgumentException>(() => w.RegisterChannel((ushort)(s + 1), "/t"));
        var ch = w.RegisterChannel(s, "/t");
        Assert.Throws<ArgumentException>(() => w.WriteMessage((ushort)(ch + 1), T0, T0, [1]));
        w.WriteMessage(ch, T0, T0, [1]); // the writer is still usable
    }

    [Fact]
    public void DisposeCompletesTheFile()
    {
        using var tmp = new TempDir();
        var path = tmp.File("disposed.mcap");
        using (var w = new McapWriter(File.Create(path)))
        {
            var ch = w.RegisterChannel(w.RegisterSchema("s", "protobuf", new byte[] { 9 }), "/t");
            w.WriteMessage(ch, T0, T0, [1]);
        }
        var indexed = McapNode.Read(path).GetProperty("indexed");
        Assert.True(indexed.GetProperty("ok").GetBoolean(), indexed.GetProperty("error").ToString());
        Assert.Equal(1, indexed.GetProperty("messageCount").GetInt32());
    }
}
