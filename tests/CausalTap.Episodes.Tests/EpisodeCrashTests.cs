using CausalTap.Episodes.Tests.TestSupport;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Episodes.Tests;

/// <summary>An <see cref="EpisodeRecorder"/> process killed with SIGKILL mid-recording leaves an episode that reads and replays.</summary>
[Collection(EpisodeCollection.Name)]
public sealed class EpisodeCrashTests(EpisodeFixture fixture)
{
    [Fact]
    public async Task RecorderKilledMidRecording_EveryFrameOfTheCompleteChunksReadsBackAndReplays()
    {
        using var tmp = new TempDir();
        var path = tmp.File("killed.mcap");
        var framesWritten = CrashWriterProgram.RunAndKill(30, "episode-writer", path, fixture.FrameDir);
        Assert.Equal(30, framesWritten);

        // @mcap/core, independently: the file is cut short and every complete record before the cut reads.
        var stream = McapNode.Read(path).GetProperty("stream");
        Assert.True(stream.GetProperty("ok").GetBoolean(), stream.GetProperty("error").ToString());
        Assert.True(stream.GetProperty("truncated").GetBoolean());
        var imageChannel = stream.GetProperty("channels").EnumerateObject().Single(c => c.Value.GetProperty("topic").GetString() == EpisodeSchemas.ImageTopic).Name;
        var nodeFrames = stream.GetProperty("perChannel").GetProperty(imageChannel).GetProperty("count").GetInt32();

        using var reader = EpisodeReader.Open(path);
        Assert.Equal(LiveSession.Metadata(), reader.Metadata);
        var frames = reader.ReadEvents().OfType<EpisodeFrame>().ToList();
        Assert.True(reader.IsTruncated);
        Assert.Equal(nodeFrames, frames.Count);
        // Frames written before the kill sit in closed chunks, except those of the chunk that was still open (a chunk
        // holds about two frames at this chunk size).
        Assert.True(frames.Count >= 25, $"{frames.Count} frames read back after {framesWritten} were written");
        Assert.Equal(Enumerable.Range(0, frames.Count).Select(k => (long)k), frames.Select(f => f.FrameIndex));
        for (var k = 0; k < frames.Count; k++)
        {
            Assert.Equal(fixture.Jpegs[k % fixture.Jpegs.Count], frames[k].Frame.Encoded.Data.ToByteArray());
        }

        var replayed = new List<Protocol.V1.TrackUpdate>();
        await foreach (var u in EpisodeReplayer.ReplayAsync(path, fixture.Model, TrackingMethod.Tapir, new ReplayOptions()))
        {
            replayed.Add(u);
        }
        Assert.Equal(frames.Select(f => f.FrameIndex), replayed.Select(u => u.FrameIndex));
        Assert.All(replayed, u => Assert.Equal(new uint[] { 1, 2 }, u.Points.Select(p => p.Id)));
        // Each frame was written together with its update, so the camera's sequence (recorded only in the update)
        // survives for every frame that reads back, including the last one before the cut.
        Assert.Equal(frames.Select(f => CrashWriterProgram.CameraSequence(f.FrameIndex)), replayed.Select(u => u.Sequence));
    }
}
