using System.Buffers.Binary;

namespace CausalTap.Episodes.Tests.TestSupport;

/// <summary>
/// Entry point of the test assembly. With <c>crash-writer FILE</c> it records forever (100 messages a chunk, message
/// i carrying i) and prints "chunk N" after each chunk is flushed, so a test can SIGKILL it mid-recording.
/// </summary>
public static class CrashWriterProgram
{
    /// <summary>Messages per chunk in crash-writer mode.</summary>
    public const int MessagesPerChunk = 100;

    /// <summary>Runs the crash writer; any other arguments do nothing (the test host has its own entry).</summary>
    public static int Main(string[] args)
    {
        if (args.Length != 2 || args[0] != "crash-writer")
        {
            return 0;
        }
        using var w = new McapWriter(File.Create(args[1]), new McapWriterOptions { MaxChunkDuration = null, ChunkSize = 1 << 24 });
        var ch = w.RegisterChannel(w.RegisterSchema("causaltap.test.Counter", "protobuf", new byte[] { 1, 2, 3 }), "/counter");
        var payload = new byte[4096];
        for (var i = 0; ; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(payload, i);
            w.WriteMessage(ch, (ulong)i * 1000, (ulong)i * 1000, payload);
            if ((i + 1) % MessagesPerChunk == 0)
            {
                w.FlushChunk();
                Console.Out.WriteLine($"chunk {w.ChunkCount}");
                Console.Out.Flush();
            }
        }
    }
}
