using CausalTap.Protocol.V1;
using static CausalTap.Server.Tests.TestSupport;

namespace CausalTap.Server.Tests;

/// <summary>Ingest policies and latest-wins subscribers, with a stand-in engine the test controls (real gRPC).</summary>
public sealed class QueueTests
{
    private const int W = 32, H = 24;

    private static async Task<(TrackerServer Server, Tracker.TrackerClient Client, FakeEngineFactory Engines)> Start(SemaphoreSlim? gate = null)
    {
        var engines = new FakeEngineFactory(() => new FakeEngine { Gate = gate });
        TrackerServer server = await Servers.StartFake(Servers.Options(), engines);
        return (server, Client(server.Address), engines);
    }

    private static Task<SessionInfo> Open(Tracker.TrackerClient client, IngestPolicy policy, uint queue) =>
        client.OpenSessionAsync(new OpenSessionRequest { CameraId = "cam", IngestPolicy = policy, IngestQueueFrames = queue }, Options()).ResponseAsync;

    private static Task<SessionInfo> GetSession(Tracker.TrackerClient client, string id) =>
        client.GetSessionAsync(new GetSessionRequest { SessionId = id }, Options()).ResponseAsync;

    [Fact]
    public async Task StalledSubscriber_NeitherSlowsIngestNorOtherSubscribers()
    {
        (TrackerServer server, Tracker.TrackerClient client, FakeEngineFactory _) = await Start();
        await using TrackerServer owner = server;
        string id = (await Open(client, IngestPolicy.Block, 4)).SessionId;
        // 64 points make each update ~1.5 KB, so the stalled call's HTTP/2 window fills after a few dozen updates
        // and the server-side latest-wins queue has to do its job.
        var add = new AddPointsRequest { SessionId = id };
        for (int p = 0; p < 64; p++) add.Points.Add(new PointQuery { X = 1 + p, Y = 2 });
        await client.AddPointsAsync(add, Options());
        using var stalled = client.Subscribe(new SubscribeRequest { SessionId = id, QueueUpdates = 2 }, Options()); // never read until the end
        using var reader = client.Subscribe(new SubscribeRequest { SessionId = id, QueueUpdates = 1000 }, Options());
        await WaitForSubscribers(client, id, 2);

        const int frames = 300;
        Task<List<TrackUpdate>> reading = ReadAll(reader, max: frames);
        using var ingest = client.StreamFrames(Options());
        for (int i = 0; i < frames; i++) await ingest.RequestStream.WriteAsync(RawFrame(id, W, H, 0, (ulong)i));
        await ingest.RequestStream.CompleteAsync();
        IngestSummary summary = await ingest.ResponseAsync;
        Assert.Equal((ulong)frames, summary.FramesQueued);

        // The reading subscriber got every update, in order, with nothing skipped.
        List<TrackUpdate> got = await reading;
        Assert.Equal(Enumerable.Range(0, frames).Select(i => (long)i), got.Select(u => u.FrameIndex));
        Assert.All(got, u => Assert.Equal(0ul, u.UpdatesSkipped));
        Assert.Equal(1f + frames - 1, got[^1].Points[0].X); // the fake engine moves the point 1 px per frame
        // Ingest was never held back by the stalled one: every frame was processed, none dropped (policy BLOCK).
        SessionInfo info = await GetSession(client, id);
        Assert.Equal((ulong)frames, info.Stats.FramesProcessed);
        Assert.Equal(0ul, info.Stats.FramesDropped);

        // The stalled subscriber kept only the newest updates and is told how many it missed.
        await client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
        // (What it still gets is what HTTP/2 had buffered plus its queue of 2; every other update is counted.)
        List<TrackUpdate> late = await ReadAll(stalled);
        Assert.InRange(late.Count, 2, frames / 2);
        Assert.Equal(frames - 1, late[^1].FrameIndex);
        Assert.True(late.Zip(late.Skip(1)).All(pair => pair.First.FrameIndex < pair.Second.FrameIndex));
        Assert.Equal((ulong)(frames - late.Count), late[^1].UpdatesSkipped);
        Assert.Equal(Grpc.Core.StatusCode.OK, stalled.GetStatus().StatusCode);
    }

    [Fact]
    public async Task DropOldest_CountsEveryDrop_AndTracksTheNewestFrame()
    {
        var gate = new SemaphoreSlim(0);
        (TrackerServer server, Tracker.TrackerClient client, FakeEngineFactory engines) = await Start(gate);
        await using TrackerServer owner = server;
        string id = (await Open(client, IngestPolicy.DropOldest, 2)).SessionId;
        using var sub = client.Subscribe(new SubscribeRequest { SessionId = id, QueueUpdates = 100 }, Options());
        await WaitForSubscribers(client, id, 1);

        await client.SubmitFrameAsync(RawFrame(id, W, H, 0, 0), Options());
        await engines.Created[0].Entered.WaitAsync(TimeSpan.FromSeconds(30)); // frame 0 is inside the engine
        FrameAck ack = null!;
        for (int i = 1; i <= 9; i++) ack = await client.SubmitFrameAsync(RawFrame(id, W, H, 0, (ulong)i), Options());
        // Queue of 2 behind the busy engine: frames 1..7 were pushed out by newer ones.
        Assert.True(ack.Queued);
        Assert.Equal(7ul, ack.FramesDropped);
        gate.Release(100);

        // Frame 8 is stale once the engine is free (frame 9 waits behind it): it is dropped too, so the engine goes
        // straight to the newest frame.
        List<TrackUpdate> updates = await ReadAll(sub, max: 2);
        Assert.Equal([0ul, 9ul], updates.Select(u => u.Sequence));
        Assert.Equal(8ul, updates[^1].FramesDropped);
        SessionInfo info = await GetSession(client, id);
        Assert.Equal(10ul, info.Stats.FramesReceived);
        Assert.Equal(2ul, info.Stats.FramesProcessed);
        Assert.Equal(8ul, info.Stats.FramesDropped);
    }

    [Fact]
    public async Task Block_AppliesBackPressure_AndDropsNothing()
    {
        var gate = new SemaphoreSlim(0);
        (TrackerServer server, Tracker.TrackerClient client, FakeEngineFactory engines) = await Start(gate);
        await using TrackerServer owner = server;
        string id = (await Open(client, IngestPolicy.Block, 2)).SessionId;

        using var ingest = client.StreamFrames(Options());
        Task writing = Task.Run(async () =>
        {
            for (int i = 0; i < 10; i++) await ingest.RequestStream.WriteAsync(RawFrame(id, W, H, 0, (ulong)i));
            await ingest.RequestStream.CompleteAsync();
        });
        await engines.Created[0].Entered.WaitAsync(TimeSpan.FromSeconds(30));
        // Engine busy with frame 0, queue (2) full: the server takes one more frame and waits with it.
        await WaitUntil(async () => (await GetSession(client, id)).Stats.FramesReceived == 4, "4 frames received");
        await Task.Delay(200);
        SessionInfo held = await GetSession(client, id);
        Assert.Equal(4ul, held.Stats.FramesReceived);
        Assert.False(ingest.ResponseAsync.IsCompleted);

        gate.Release(100);
        await writing;
        IngestSummary summary = await ingest.ResponseAsync;
        Assert.Equal(10ul, summary.FramesQueued);
        Assert.Equal(0ul, summary.FramesDropped);
        await WaitUntil(async () => (await GetSession(client, id)).Stats.FramesProcessed == 10, "10 frames processed");
    }
}
