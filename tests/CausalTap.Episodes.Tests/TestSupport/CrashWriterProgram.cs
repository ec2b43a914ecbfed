using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;

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
        if (args.Length == 3 && args[0] == "episode-writer")
        {
            return EpisodeWriter(args[1], args[2]);
        }
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

    /// <summary>
    /// Test side: starts this assembly as a child process with <paramref name="args"/> (<c>crash-writer ...</c> or
    /// <c>episode-writer ...</c>), reads its "word N" progress lines until N reaches <paramref name="until"/> (or its
    /// output ends), then SIGKILLs it: no Dispose, no summary, likely a half-written chunk. Returns the last N read
    /// (-1 when none), for the caller to assert.
    /// </summary>
    public static int RunAndKill(int until, params string[] args)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal) ? Environment.ProcessPath : "dotnet")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(typeof(CrashWriterProgram).Assembly.Location);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var child = Process.Start(info)!;
        var last = -1;
        try
        {
            while (last < until && child.StandardOutput.ReadLine() is { } line)
            {
                last = int.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
            }
        }
        finally
        {
            child.Kill();
            child.WaitForExit();
        }
        return last;
    }

    /// <summary>Chunk size of the episode writer: a few frames a chunk, so a kill lands between chunks.</summary>
    public const int EpisodeChunkSize = 24 << 10;

    /// <summary>The camera sequence the episode writer records with frame k (only its update carries it).</summary>
    public static ulong CameraSequence(long k) => 5000 + (ulong)k;

    /// <summary>
    /// <c>episode-writer FILE FRAME_DIR</c>: records an episode forever with an <see cref="EpisodeRecorder"/> — the JPEGs
    /// of FRAME_DIR in a loop (frame k = file k mod n), two points added at frame 0, and a made-up update per frame —
    /// and prints "frame K" after each frame's update, so a test can SIGKILL it mid-recording.
    /// </summary>
    private static int EpisodeWriter(string path, string frameDir)
    {
        var jpegs = Directory.GetFiles(frameDir, "*.jpg").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
        var frames = LiveSession.JpegFrames(jpegs);
        using var recorder = EpisodeRecorder.Create(path, LiveSession.Metadata(), new McapWriterOptions { ChunkSize = EpisodeChunkSize });
        var add = new Protocol.V1.AddPointsRequest { Points = { new Protocol.V1.PointQuery { X = 50, Y = 40 }, new Protocol.V1.PointQuery { X = 100, Y = 80 } } };
        recorder.WritePointsAdded(0, add, new Protocol.V1.AddPointsResponse { PointIds = { 1, 2 } }, LiveSession.StartNs);
        for (var k = 0; ; k++)
        {
            var frame = frames[k % frames.Count].Clone();
            frame.CaptureTimeNs = LiveSession.StartNs + k * LiveSession.FrameIntervalNs;
            recorder.WriteTrackedFrame(k, frame, frame.CaptureTimeNs + 1_000_000, new Protocol.V1.TrackUpdate
            {
                FrameIndex = k,
                Sequence = CameraSequence(k),
                CaptureTimeNs = frame.CaptureTimeNs,
                PublishTimeNs = frame.CaptureTimeNs + 2_000_000,
                Points = { new Protocol.V1.PointState { Id = 1, X = 50, Y = 40, Visible = true }, new Protocol.V1.PointState { Id = 2, X = 100, Y = 80 } },
            });
            Console.Out.WriteLine($"frame {k}");
            Console.Out.Flush();
            Thread.Sleep(5);
        }
    }
}
