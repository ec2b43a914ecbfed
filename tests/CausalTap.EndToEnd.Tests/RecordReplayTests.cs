using System.Globalization;
using CausalTap.Cli;
using CausalTap.EndToEnd.Tests.TestSupport;
using Grpc.Core;
using Grpc.Net.Client;
using CausalTap.Protocol.V1;
using Xunit.Abstractions;

namespace CausalTap.EndToEnd.Tests;

/// <summary>
/// Recording survives a crash: record a session, SIGKILL the server mid-recording, start a new server on the same
/// episodes folder, and replay the episode through gRPC Replay and through `causaltap replay`. Every replayed
/// update must equal the update the live subscriber received for that frame.
/// </summary>
public sealed class RecordReplayTests(ITestOutputHelper log) : IAsyncLifetime
{
    private const string EpisodeName = "crash-test.mcap";
    private const int FramesBeforeFlush = 40;
    private const int FramesAfterFlush = 5;
    private readonly string _episodes = Directory.CreateTempSubdirectory("causaltap-e2e-episodes-").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Directory.Delete(_episodes, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Episode_recorded_until_a_SIGKILL_replays_to_the_same_updates()
    {
        E2EEnvironment.RequireFfmpeg();
        List<TrackUpdate> live;
        int port = ServerProcess.FreePort();
        await using (ServerProcess first = await ServerProcess.StartAsync(_episodes, port))
        {
            live = await RecordUntilKilledAsync(first);
        }
        Assert.True(live.Count >= FramesBeforeFlush, $"live subscriber saw {live.Count} updates");

        await using ServerProcess second = await ServerProcess.StartAsync(_episodes);
        ListEpisodesResponse episodes = await second.Client.ListEpisodesAsync(new ListEpisodesRequest());
        EpisodeInfo? episode = episodes.Episodes.FirstOrDefault(e => e.Name == EpisodeName);
        Assert.True(episode is not null, $"{EpisodeName} not listed after the restart: {episodes}");
        Assert.InRange((int)episode.Frames, FramesBeforeFlush, live.Count);

        // gRPC Replay: one update per recorded frame, equal to the live one.
        var replayed = new List<TrackUpdate>();
        using (AsyncServerStreamingCall<TrackUpdate> call = second.Client.Replay(new ReplayRequest { Episode = EpisodeName, Speed = ReplaySpeed.Max },
                   new CallOptions(deadline: DateTime.UtcNow.AddMinutes(5))))
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None)) replayed.Add(call.ResponseStream.Current);
        }
        log.WriteLine($"live {live.Count} updates, episode {episode.Frames} frames, gRPC replay {replayed.Count} updates");
        Assert.Equal((int)episode.Frames, replayed.Count);
        for (int i = 0; i < replayed.Count; i++)
        {
            TrackUpdate r = replayed[i], l = live[i];
            Assert.Equal(i, r.FrameIndex);
            Assert.Equal(l.FrameIndex, r.FrameIndex);
            Assert.Equal(l.Sequence, r.Sequence);
            Assert.Equal(l.Points.Select(p => (p.Id, p.X, p.Y, p.Visible, p.OcclusionProbability, p.Uncertainty)),
                         r.Points.Select(p => (p.Id, p.X, p.Y, p.Visible, p.OcclusionProbability, p.Uncertainty)));
        }
        Assert.Contains(replayed, u => u.Points.Count == 16);

        // The CLI: causaltap replay EPISODE --csv, rows frame,id,x,y,visible,... equal the live updates.
        string csv = Path.Combine(_episodes, "replay.csv");
        ProcessResult cli = await ChildProcess.StartCli("replay", Path.Combine(_episodes, EpisodeName), "--csv", csv).WaitForExitAsync(TimeSpan.FromMinutes(5));
        log.WriteLine(cli.Stdout);
        Assert.True(cli.ExitCode == 0, cli.Tail());
        string[][] rows = File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')).ToArray();
        var expected = live.Take(replayed.Count).SelectMany(u => u.Points.Select(p => (u.FrameIndex, p))).ToArray();
        Assert.Equal(expected.Length, rows.Length);
        for (int i = 0; i < rows.Length; i++)
        {
            (long frame, PointState p) = expected[i];
            Assert.Equal(frame, long.Parse(rows[i][0], CultureInfo.InvariantCulture));
            Assert.Equal(p.Id, uint.Parse(rows[i][1], CultureInfo.InvariantCulture));
            Assert.Equal(p.X, float.Parse(rows[i][2], CultureInfo.InvariantCulture), 0.01f);
            Assert.Equal(p.Y, float.Parse(rows[i][3], CultureInfo.InvariantCulture), 0.01f);
            Assert.Equal(p.Visible, rows[i][4] is "1" or "true" or "True");
        }
    }

    /// <summary>
    /// Streams 40 frames with 16 points into a recorded session, waits until the recording on disk holds them
    /// (the recorder flushes a pending chunk after 1 s), streams 5 more and SIGKILLs the server with the session
    /// and the camera call still open. Returns what the live subscriber received.
    /// </summary>
    private async Task<List<TrackUpdate>> RecordUntilKilledAsync(ServerProcess server)
    {
        using IStreamFrameSource source = StreamFrameSources.Open("synthetic:160x120", StreamImageFormat.Jpeg);
        SessionInfo session = await server.Client.OpenSessionAsync(new OpenSessionRequest
        {
            CameraId = "e2e-crash", Record = true, EpisodeName = EpisodeName, IngestPolicy = IngestPolicy.Block, FrameWidth = 160, FrameHeight = 120,
        });
        Assert.EndsWith(EpisodeName, session.EpisodePath);

        var live = new List<TrackUpdate>();
        using var stop = new CancellationTokenSource();
        AsyncServerStreamingCall<TrackUpdate> subscription = server.Client.Subscribe(new SubscribeRequest { SessionId = session.SessionId, QueueUpdates = 256 });
        Task reading = Task.Run(async () =>
        {
            try
            {
                while (await subscription.ResponseStream.MoveNext(stop.Token)) lock (live) live.Add(subscription.ResponseStream.Current);
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException or IOException or HttpRequestException)
            {
                // the server was killed
            }
        });
        await WaitAsync(async () => (await server.Client.GetSessionAsync(new GetSessionRequest { SessionId = session.SessionId })).Stats.Subscribers >= 1, "subscriber registered");

        AsyncClientStreamingCall<Frame, IngestSummary> camera = server.Client.StreamFrames();
        async Task SendAsync(int count, int offset)
        {
            for (int i = 0; i < count; i++)
            {
                Assert.True(source.TryRead(out SourceFrame frame));
                await camera.RequestStream.WriteAsync(frame.ToFrame(session.SessionId, WallClock.NowNs(), (ulong)(offset + i)));
                if (offset + i == 4)
                {
                    var add = new AddPointsRequest { SessionId = session.SessionId };
                    add.Points.AddRange(PointList.Grid(4, 160, 120));
                    await server.Client.AddPointsAsync(add);
                }
                await Task.Delay(20);
            }
        }
        await SendAsync(FramesBeforeFlush, 0);
        await WaitAsync(() => Task.FromResult(Count(live) >= FramesBeforeFlush), $"{FramesBeforeFlush} live updates");
        await WaitAsync(async () => (await server.Client.ListEpisodesAsync(new ListEpisodesRequest())).Episodes
            .Any(e => e.Name == EpisodeName && e.Frames >= FramesBeforeFlush), "the first frames on disk");
        await SendAsync(FramesAfterFlush, FramesBeforeFlush);
        await WaitAsync(() => Task.FromResult(Count(live) >= FramesBeforeFlush + FramesAfterFlush), "the last live updates");

        await server.KillHardAsync();
        await stop.CancelAsync();
        await reading.WaitAsync(TimeSpan.FromSeconds(30));
        camera.Dispose();
        subscription.Dispose();
        lock (live) return [.. live];
    }

    private static int Count(List<TrackUpdate> list)
    {
        lock (list) return list.Count;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        for (int i = 0; i < 1200; i++)
        {
            if (await condition()) return;
            await Task.Delay(50);
        }
        Assert.Fail($"timed out waiting for {what}");
    }
}
