using Grpc.Core;
using CausalTap.Protocol.V1;
using Grpc.Health.V1;
using static CausalTap.Server.Tests.TestSupport;

namespace CausalTap.Server.Tests;

/// <summary>Sessions, streaming, points and info against the real default model over loopback gRPC.</summary>
[Collection(RealModelCollection.Name)]
public sealed class RealModelSessionTests(RealModelFixture fixture)
{
    private const int W = 160, H = 120;
    private Tracker.TrackerClient Client => fixture.Client;

    [Fact]
    public async Task OpenListGetClose()
    {
        SessionInfo opened = await fixture.Open(width: W, height: H);
        Assert.Matches("^[A-Za-z0-9_-]{8,16}$", opened.SessionId);
        Assert.Equal(SessionState.Open, opened.State);
        Assert.Equal("causaltap-default", opened.Model);
        Assert.Equal("cpu", opened.Provider);
        Assert.Equal(Protocol.V1.TrackingMethod.TapirLk, opened.Method); // the default model has TAPIR only: TAPIR + Lucas-Kanade
        Assert.Equal((uint)W, opened.FrameWidth);

        ListSessionsResponse list = await Client.ListSessionsAsync(new ListSessionsRequest(), Options());
        Assert.Contains(list.Sessions, s => s.SessionId == opened.SessionId);

        SessionInfo closed = await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = opened.SessionId }, Options());
        Assert.Equal(SessionState.Closed, closed.State);
        Assert.Equal("closed by client", closed.CloseReason);
        Assert.NotEqual(0, closed.ClosedTimeNs);

        list = await Client.ListSessionsAsync(new ListSessionsRequest(), Options());
        Assert.DoesNotContain(list.Sessions, s => s.SessionId == opened.SessionId);
        SessionInfo after = await Client.GetSessionAsync(new GetSessionRequest { SessionId = opened.SessionId }, Options());
        Assert.Equal(SessionState.Closed, after.State);

        var e = await Assert.ThrowsAsync<RpcException>(() => Client.AddPointsAsync(new AddPointsRequest { SessionId = opened.SessionId, Points = { new PointQuery { X = 1, Y = 1 } } }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains("closed", e.Status.Detail);
    }

    [Fact]
    public async Task StreamFrames_GivesOneUpdatePerProcessedFrameInOrder_AndSubscriptionEndsOkOnClose()
    {
        SessionInfo session = await fixture.Open();
        using var sub = Client.Subscribe(new SubscribeRequest { SessionId = session.SessionId, QueueUpdates = 64 }, Options());
        await WaitForSubscribers(Client, session.SessionId, 1);

        using var ingest = Client.StreamFrames(Options());
        for (int i = 0; i < 6; i++) await ingest.RequestStream.WriteAsync(RawFrame(session.SessionId, W, H, i, sequence: (ulong)(100 + i), captureNs: 1000 + i));
        await ingest.RequestStream.CompleteAsync();
        IngestSummary summary = await ingest.ResponseAsync;
        Assert.Equal(6ul, summary.FramesReceived);
        Assert.Equal(6ul, summary.FramesQueued);
        Assert.Equal(0ul, summary.FramesDropped + summary.FramesRejected);

        List<TrackUpdate> updates = await ReadAll(sub, max: 6);
        Assert.Equal([0L, 1, 2, 3, 4, 5], updates.Select(u => u.FrameIndex));
        Assert.Equal(Enumerable.Range(100, 6).Select(i => (ulong)i), updates.Select(u => u.Sequence));
        Assert.All(updates, u => Assert.True(u.FrameWidth == W && u.FrameHeight == H && u.SessionId == session.SessionId));
        Assert.All(updates, u => Assert.True(u.PublishTimeNs >= u.ReceiveTimeNs && u.ReceiveTimeNs > 0));
        Assert.Equal(1000L, updates[0].CaptureTimeNs);

        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = session.SessionId }, Options());
        Assert.False(await sub.ResponseStream.MoveNext(CancellationToken.None)); // ends...
        Assert.Equal(StatusCode.OK, sub.GetStatus().StatusCode);                // ...with OK
        SessionInfo info = await Client.GetSessionAsync(new GetSessionRequest { SessionId = session.SessionId }, Options());
        Assert.Equal(6ul, info.Stats.FramesProcessed);
        Assert.True(info.Stats.ProcessingMsP50 > 0);
    }

    [Fact]
    public async Task AddPointsMidStream_AttachToTheNextFrame_AndStartAtTheirQuery()
    {
        SessionInfo session = await fixture.Open();
        string id = session.SessionId;
        using var sub = Client.Subscribe(new SubscribeRequest { SessionId = id, QueueUpdates = 64 }, Options());
        await WaitForSubscribers(Client, id, 1);
        for (int i = 0; i < 3; i++) await Client.SubmitFrameAsync(RawFrame(id, W, H, i, (ulong)i), Options());
        List<TrackUpdate> before = await ReadAll(sub, max: 3);
        Assert.All(before, u => Assert.Empty(u.Points));

        AddPointsResponse added = await Client.AddPointsAsync(new AddPointsRequest
        {
            SessionId = id,
            Points = { new PointQuery { X = 40.5f, Y = 30.5f }, new PointQuery { X = 100, Y = 80 } },
        }, Options());
        Assert.Equal([1u, 2u], added.PointIds);
        Assert.Equal(3, added.QueryFrameIndex);

        for (int i = 3; i < 6; i++) await Client.SubmitFrameAsync(RawFrame(id, W, H, i, (ulong)i), Options());
        List<TrackUpdate> after = await ReadAll(sub, max: 3);
        TrackUpdate first = after[0];
        Assert.Equal(3, first.FrameIndex);
        Assert.Equal([1u, 2u], first.Points.Select(p => p.Id));
        // On its query frame a point is where it was asked for (within the model's resolution: 256 px input).
        Assert.InRange(first.Points[0].X, 40.5f - 4, 40.5f + 4);
        Assert.InRange(first.Points[0].Y, 30.5f - 4, 30.5f + 4);
        Assert.InRange(first.Points[1].X, 100f - 4, 100f + 4);
        Assert.InRange(first.Points[1].Y, 80f - 4, 80f + 4);
        Assert.All(after.SelectMany(u => u.Points), p => Assert.True(p.OcclusionProbability is >= 0 and <= 1 && p.Uncertainty is >= 0 and <= 1));

        AddPointsResponse third = await Client.AddPointsAsync(new AddPointsRequest { SessionId = id, Points = { new PointQuery { X = 10, Y = 10 } } }, Options());
        Assert.Equal([3u], third.PointIds);
        Assert.Equal(6, third.QueryFrameIndex);
        RemovePointsResponse removed = await Client.RemovePointsAsync(new RemovePointsRequest { SessionId = id, PointIds = { 1, 99 } }, Options());
        Assert.Equal([1u], removed.Removed);
        Assert.Equal([99u], removed.Unknown);
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 6, 6), Options());
        TrackUpdate last = (await ReadAll(sub, max: 1))[0];
        Assert.Equal([2u, 3u], last.Points.Select(p => p.Id));
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
    }

    [Fact]
    public async Task PointLimit_IsResourceExhausted()
    {
        SessionInfo session = await fixture.Open(width: W, height: H);
        var request = new AddPointsRequest { SessionId = session.SessionId };
        for (int i = 0; i <= RealModelFixture.MaxPoints; i++) request.Points.Add(new PointQuery { X = i, Y = i });
        var e = await Assert.ThrowsAsync<RpcException>(() => Client.AddPointsAsync(request, Options()).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains($"limit of {RealModelFixture.MaxPoints}", e.Status.Detail);
        request.Points.RemoveAt(0);
        Assert.Equal(RealModelFixture.MaxPoints, (await Client.AddPointsAsync(request, Options())).PointIds.Count);
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = session.SessionId }, Options());
    }

    [Fact]
    public async Task ServerInfo_ListsTheDefaultModelProvidersAndLimits()
    {
        ServerInfo info = await Client.GetServerInfoAsync(new GetServerInfoRequest(), Options());
        Assert.Equal("causaltap-default", info.DefaultModel);
        ModelInfo model = Assert.Single(info.Models, m => m.Name == "causaltap-default");
        Assert.True(model.IsDefault);
        // the input size the card declares (the server reads it, it is not fixed at 256)
        var card = CausalTap.Tracking.ModelDirectory.Open(Path.Combine(ModelsDirectory, "causaltap-default"));
        Assert.Equal((uint)card.InputWidth, model.InputWidth);
        Assert.Equal((uint)card.InputHeight, model.InputHeight);
        Assert.Contains(Protocol.V1.TrackingMethod.Tapir, model.Methods);
        Assert.Contains("cpu", info.Providers);
        Assert.Matches(@"^1\.\d+", info.OnnxruntimeVersion);
        Assert.Equal((uint)RealModelFixture.MaxMessageBytes, info.Limits.MaxMessageBytes);
        Assert.Equal((uint)RealModelFixture.MaxPoints, info.Limits.MaxPointsPerSession);
        Assert.False(info.AuthRequired);
        Assert.False(info.Tls);
    }

    [Fact]
    public async Task UnknownModelAndMissingCamera_AreRejected()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => Client.OpenSessionAsync(new OpenSessionRequest { CameraId = "c", Model = "nope" }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains("causaltap-default", e.Status.Detail); // lists what is available
        e = await Assert.ThrowsAsync<RpcException>(() => Client.OpenSessionAsync(new OpenSessionRequest(), Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        e = await Assert.ThrowsAsync<RpcException>(() => Client.OpenSessionAsync(new OpenSessionRequest { CameraId = "c", Method = Protocol.V1.TrackingMethod.Gmrw }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
    }

    [Fact]
    public async Task Health_CheckAndWatch()
    {
        var health = TestSupport.HealthClient(fixture.Server.Address);
        HealthCheckResponse all = await health.CheckAsync(new HealthCheckRequest(), Options());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, all.Status);
        HealthCheckResponse tracker = await health.CheckAsync(new HealthCheckRequest { Service = "causaltap.v1.Tracker" }, Options());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, tracker.Status);
        var e = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "nope" }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);

        using var watch = health.Watch(new HealthCheckRequest { Service = "causaltap.v1.Tracker" }, Options());
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, watch.ResponseStream.Current.Status);
        using var unknown = health.Watch(new HealthCheckRequest { Service = "nope" }, Options());
        Assert.True(await unknown.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.ServiceUnknown, unknown.ResponseStream.Current.Status);
    }
}
