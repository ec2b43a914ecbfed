using CausalTap.Episodes;
using Grpc.Core;
using CausalTap.Protocol.V1;
using Grpc.Health.V1;
using static CausalTap.Server.Tests.TestSupport;

namespace CausalTap.Server.Tests;

/// <summary>Session limits, idle timeout and graceful shutdown (stand-in engine, real gRPC).</summary>
public sealed class LifecycleTests
{
    private const int W = 32, H = 24;

    [Fact]
    public async Task MaxSessions_IsResourceExhausted()
    {
        TrackerServerOptions options = Servers.Options();
        options.MaxSessions = 2;
        await using TrackerServer server = await Servers.StartFake(options, new FakeEngineFactory());
        Tracker.TrackerClient client = Client(server.Address);
        var request = new OpenSessionRequest { CameraId = "c" };
        SessionInfo first = await client.OpenSessionAsync(request, Options());
        await client.OpenSessionAsync(request, Options());
        var e = await Assert.ThrowsAsync<RpcException>(() => client.OpenSessionAsync(request, Options()).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("max_sessions", e.Status.Detail);
        await client.CloseSessionAsync(new CloseSessionRequest { SessionId = first.SessionId }, Options());
        await client.OpenSessionAsync(request, Options()); // a slot is free again
    }

    [Fact]
    public async Task Health_IsNotServing_UntilTheModelsAreLoaded_ThenServing()
    {
        TrackerServerOptions options = Servers.Options();
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            options.Port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port; // a free port, known before the start returns
        }
        var loading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<TrackerServer> starting = TrackerServer.StartAsync(options, null, new FakeEngineFactory(), default,
            async _ => { loading.SetResult(); await release.Task; });
        await loading.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Health.HealthClient health = HealthClient($"http://127.0.0.1:{options.Port}");
        foreach (string service in new[] { "", "causaltap.v1.Tracker" })
        {
            HealthCheckResponse loadingStatus = await health.CheckAsync(new HealthCheckRequest { Service = service }, Options());
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, loadingStatus.Status);
        }
        using var watch = health.Watch(new HealthCheckRequest(), Options());
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, watch.ResponseStream.Current.Status);

        release.SetResult();
        await using TrackerServer server = await starting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, watch.ResponseStream.Current.Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest(), Options())).Status);
    }

    [Fact]
    public async Task IdleSession_IsClosed_UnlessACallUsesIt()
    {
        var clock = new ManualTimeProvider();
        TrackerServerOptions options = Servers.Options();
        options.SessionIdleTimeout = TimeSpan.FromSeconds(30);
        options.IdleCheckInterval = TimeSpan.FromHours(1); // the test sweeps by hand
        options.TimeProvider = clock;
        await using TrackerServer server = await Servers.StartFake(options, new FakeEngineFactory());
        Tracker.TrackerClient client = Client(server.Address);
        string idle = (await client.OpenSessionAsync(new OpenSessionRequest { CameraId = "idle" }, Options())).SessionId;
        string watched = (await client.OpenSessionAsync(new OpenSessionRequest { CameraId = "watched" }, Options())).SessionId;
        await client.SubmitFrameAsync(RawFrame(idle, W, H, 0, 1), Options());
        using var sub = client.Subscribe(new SubscribeRequest { SessionId = watched }, Options());
        await WaitForSubscribers(client, watched, 1);

        clock.Advance(TimeSpan.FromSeconds(29));
        server.Sessions.SweepIdle();
        Assert.Equal(SessionState.Open, (await client.GetSessionAsync(new GetSessionRequest { SessionId = idle }, Options())).State);

        clock.Advance(TimeSpan.FromSeconds(2));
        server.Sessions.SweepIdle();
        await WaitUntil(async () => (await client.GetSessionAsync(new GetSessionRequest { SessionId = idle }, Options())).State == SessionState.Closed, "the idle session to close");
        SessionInfo closed = await client.GetSessionAsync(new GetSessionRequest { SessionId = idle }, Options());
        Assert.Equal("idle timeout", closed.CloseReason);
        Assert.Equal(SessionState.Open, (await client.GetSessionAsync(new GetSessionRequest { SessionId = watched }, Options())).State);

        // A subscriber of a session that times out hears why (ABORTED with the reason), not a normal end.
        string third = (await client.OpenSessionAsync(new OpenSessionRequest { CameraId = "third" }, Options())).SessionId;
        using var listener = client.Subscribe(new SubscribeRequest { SessionId = third }, Options());
        await WaitForSubscribers(client, third, 1);
        await client.CloseSessionAsync(new CloseSessionRequest { SessionId = watched }, Options()); // its owner: a normal end
        Assert.False(await sub.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.OK, sub.GetStatus().StatusCode);
        await server.Sessions.CloseAsync(third, CloseReasons.IdleTimeout);
        var aborted = await Assert.ThrowsAsync<RpcException>(() => listener.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Aborted, aborted.StatusCode);
        Assert.Contains("idle timeout", aborted.Status.Detail);
    }

    [Fact]
    public async Task Shutdown_DrainsQueuedFrames_EndsSubscriptionsOk_AndCompletesRecordings()
    {
        var gate = new SemaphoreSlim(0);
        var engines = new FakeEngineFactory(() => new FakeEngine { Gate = gate });
        TrackerServerOptions options = Servers.Options();
        TrackerServer server = await Servers.StartFake(options, engines);
        Tracker.TrackerClient client = Client(server.Address);
        SessionInfo session = await client.OpenSessionAsync(new OpenSessionRequest
        {
            CameraId = "cam", IngestPolicy = IngestPolicy.Block, IngestQueueFrames = 4, Record = true, EpisodeName = "drain",
        }, Options());
        string id = session.SessionId;
        using var sub = client.Subscribe(new SubscribeRequest { SessionId = id, QueueUpdates = 16 }, Options());
        await WaitForSubscribers(client, id, 1);
        for (int i = 0; i < 4; i++) await client.SubmitFrameAsync(RawFrame(id, W, H, 0, (ulong)i), Options());
        await engines.Created[0].Entered.WaitAsync(TimeSpan.FromSeconds(30));

        Task shutdown = server.ShutdownAsync();
        // Draining: health says NOT_SERVING and new sessions are refused, but queued frames are still tracked.
        await WaitUntil(async () => (await HealthClient(server.Address).CheckAsync(new HealthCheckRequest(), Options())).Status
                                    == HealthCheckResponse.Types.ServingStatus.NotServing, "NOT_SERVING");
        var refused = await Assert.ThrowsAsync<RpcException>(() => client.OpenSessionAsync(new OpenSessionRequest { CameraId = "late" }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        gate.Release(100);

        // Every queued frame's update arrives, then the subscription ends UNAVAILABLE: the server went away, the
        // session did not end normally.
        var updates = new List<TrackUpdate>();
        var ended = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await sub.ResponseStream.MoveNext(CancellationToken.None)) updates.Add(sub.ResponseStream.Current);
        });
        Assert.Equal([0L, 1, 2, 3], updates.Select(u => u.FrameIndex));
        Assert.Equal(StatusCode.Unavailable, ended.StatusCode);
        Assert.Contains("shutting down", ended.Status.Detail);
        await shutdown;
        await server.DisposeAsync();

        EpisodeSummary summary = EpisodeCatalog.Summarize(Path.Combine(options.EpisodesDirectory, session.EpisodePath));
        Assert.Equal(4, summary.Frames);
        byte[] bytes = File.ReadAllBytes(Path.Combine(options.EpisodesDirectory, session.EpisodePath));
        Assert.Equal(new byte[] { 0x89, (byte)'M', (byte)'C', (byte)'A', (byte)'P', (byte)'0', 0x0D, 0x0A }, bytes[^8..]); // footer magic: the file is complete
        Assert.True(engines.Created[0].Disposed);
    }
}
