using CausalTap.Protocol.V1;
using static CausalTap.Server.Tests.TestSupport;

namespace CausalTap.Server.Tests;

/// <summary>Alone (no other test allocates meanwhile), because it measures this process's live managed heap.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryCollection
{
    public const string Name = "Memory";
}

/// <summary>Closed sessions give their memory back (issue: 0.9-4.3 MB left behind per session, RSS +500 MB in 240 cycles).</summary>
[Collection(MemoryCollection.Name)]
public sealed class MemoryTests
{
    private const int W = 160, H = 120, Points = 64;

    [Fact]
    public async Task Open_track_close_cycles_do_not_grow_the_live_heap()
    {
        TrackerServerOptions options = Servers.Options(TempDirectory());
        options.MaxPointsPerSession = Points;
        await using TrackerServer server = await TrackerServer.StartAsync(options);
        Tracker.TrackerClient client = Client(server.Address);

        // More cycles than the manager's history of closed sessions, so that a session the history keeps alive
        // with its tracker (about 1.5 MB each here: model-input tensors, per-point state) shows up as growth.
        const int warmup = 10, measured = SessionManager.ClosedHistory + 16;
        for (int i = 0; i < warmup; i++) await Cycle(client, i);
        long before = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < measured; i++) await Cycle(client, warmup + i);
        long after = GC.GetTotalMemory(forceFullCollection: true);

        double growthMb = (after - before) / 1048576.0;
        Assert.True(growthMb < 16, $"live managed heap grew {growthMb:F1} MB over {measured} open -> track -> close cycles ({before / 1048576.0:F1} -> {after / 1048576.0:F1} MB)");
        // The closed sessions are still reported.
        ListSessionsResponse open = await client.ListSessionsAsync(new ListSessionsRequest(), Options());
        Assert.Empty(open.Sessions);
    }

    private static async Task Cycle(Tracker.TrackerClient client, int cycle)
    {
        SessionInfo s = await client.OpenSessionAsync(new OpenSessionRequest { CameraId = $"cam{cycle}", IngestPolicy = IngestPolicy.Block, FrameWidth = W, FrameHeight = H }, Options());
        var add = new AddPointsRequest { SessionId = s.SessionId };
        for (int p = 0; p < Points; p++) add.Points.Add(new PointQuery { X = 10 + p % 8 * 18, Y = 10 + p / 8 * 12 });
        await client.AddPointsAsync(add, Options());
        using (var ingest = client.StreamFrames(Options()))
        {
            for (int f = 0; f < 3; f++) await ingest.RequestStream.WriteAsync(RawFrame(s.SessionId, W, H, f, sequence: (ulong)f));
            await ingest.RequestStream.CompleteAsync();
            await ingest.ResponseAsync;
        }
        SessionInfo closed = await client.CloseSessionAsync(new CloseSessionRequest { SessionId = s.SessionId }, Options());
        Assert.Equal(3ul, closed.Stats.FramesProcessed);
        Assert.Equal(SessionState.Closed, (await client.GetSessionAsync(new GetSessionRequest { SessionId = s.SessionId }, Options())).State);
    }
}
