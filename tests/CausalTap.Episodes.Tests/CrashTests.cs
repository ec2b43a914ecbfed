using System.Buffers.Binary;
using CausalTap.Episodes.Tests.TestSupport;

namespace CausalTap.Episodes.Tests;

public class CrashTests
{
    [Fact]
    public void WriterKilledMidRecording_FileReadsBackUpToTheLastCompleteChunk()
    {
        using var tmp = new TempDir();
        var path = tmp.File("killed.mcap");
        var chunksSeen = CrashWriterProgram.RunAndKill(20, "crash-writer", path);
        Assert.Equal(20, chunksSeen);

        var bytes = File.ReadAllBytes(path);
        var stream = McapNode.Read(path).GetProperty("stream");
        Assert.True(stream.GetProperty("ok").GetBoolean(), stream.GetProperty("error").ToString());
        Assert.True(stream.GetProperty("truncated").GetBoolean());
        var nodeCount = stream.GetProperty("messageCount").GetInt32();
        Assert.True(nodeCount >= 20 * CrashWriterProgram.MessagesPerChunk, $"{nodeCount} messages");
        Assert.Equal(0, nodeCount % CrashWriterProgram.MessagesPerChunk);

        using var fs = File.OpenRead(path);
        var reader = new McapReader(fs);
        var messages = reader.ReadMessages().ToList();
        Assert.True(reader.IsTruncated);
        Assert.Equal(nodeCount, messages.Count);
        Assert.Equal(nodeCount / CrashWriterProgram.MessagesPerChunk, reader.ChunkCount);
        for (var i = 0; i < messages.Count; i++)
        {
            Assert.Equal(i, BinaryPrimitives.ReadInt32LittleEndian(messages[i].Data.Span));
            Assert.Equal((ulong)i * 1000, messages[i].LogTime);
        }
        Assert.True(bytes.Length > 20 * CrashWriterProgram.MessagesPerChunk * 4096);
    }
}
