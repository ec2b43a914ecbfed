using Grpc.Core;
using CausalTap.Protocol.V1;
using Google.Protobuf;
using static CausalTap.Server.Tests.TestSupport;

namespace CausalTap.Server.Tests;

/// <summary>
/// Every bad input of the issue gets the right status and a message, and the session then processes the next good
/// frame (real model, real gRPC).
/// </summary>
[Collection(RealModelCollection.Name)]
public sealed class BadInputTests(RealModelFixture fixture)
{
    private const int W = 160, H = 120;
    private Tracker.TrackerClient Client => fixture.Client;

    /// <summary>Submits one good frame and waits for its update: the session still works.</summary>
    private async Task AssertNextGoodFrameIsProcessed(string sessionId, ulong sequence)
    {
        SessionInfo before = await Client.GetSessionAsync(new GetSessionRequest { SessionId = sessionId }, Options());
        // capture time 0 = receive time: never refused for its time, whatever the session's capture clock says
        await Client.SubmitFrameAsync(RawFrame(sessionId, W, H, 0, sequence, captureNs: 0), Options());
        await WaitUntil(async () => (await Client.GetSessionAsync(new GetSessionRequest { SessionId = sessionId }, Options())).Stats.FramesProcessed
                                    == before.Stats.FramesProcessed + 1, "the next good frame to be processed");
    }

    private async Task<RpcException> Submit(Frame frame) =>
        await Assert.ThrowsAsync<RpcException>(() => Client.SubmitFrameAsync(frame, Options()).ResponseAsync);

    [Fact]
    public async Task CorruptImages_AreInvalidArgument()
    {
        string id = (await fixture.Open()).SessionId;
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 0, 1, captureNs: 10), Options());

        RpcException e = await Submit(new Frame { SessionId = id, Sequence = 2, CaptureTimeNs = 20, Encoded = new EncodedImage { Data = ByteString.CopyFromUtf8("definitely not an image") } });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("corrupt image", e.Status.Detail);

        e = await Submit(new Frame { SessionId = id, Sequence = 3, CaptureTimeNs = 30, Encoded = new EncodedImage { Data = ByteString.CopyFrom(0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0xFF, 0xD9) } });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("JPEG", e.Status.Detail);

        e = await Submit(new Frame { SessionId = id, Sequence = 4, CaptureTimeNs = 40, Raw = new RawImage { Width = W, Height = H, PixelFormat = Protocol.V1.PixelFormat.Rgb8, Data = ByteString.CopyFrom(new byte[100]) } });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("bytes", e.Status.Detail);

        // A JPEG whose header is fine but whose data is cut: passes ingest, fails decoding in the engine loop,
        // where it is counted as rejected (and the loop goes on). A plain subscriber hears it on the next update.
        using var sub = Client.Subscribe(new SubscribeRequest { SessionId = id, QueueUpdates = 16 }, Options());
        await WaitForSubscribers(Client, id, 1);
        byte[] jpeg = EncodeJpeg(Pixels(W, H, 0), W, H);
        await Client.SubmitFrameAsync(JpegFrame(id, jpeg[..(jpeg.Length / 3)], 5, captureNs: 50), Options());
        await AssertNextGoodFrameIsProcessed(id, 6);
        TrackUpdate next = Assert.Single(await ReadAll(sub, max: 1));
        Assert.Equal(6ul, next.Sequence);
        SessionNotice notice = Assert.Single(next.Notices);
        Assert.Equal(SessionNotice.Types.Kind.FrameRejected, notice.Kind);
        Assert.Equal(5ul, notice.Sequence);
        Assert.Equal((int)StatusCode.InvalidArgument, notice.Code);
        Assert.Contains("corrupt image", notice.Message);
        SessionInfo info = await Client.GetSessionAsync(new GetSessionRequest { SessionId = id }, Options());
        Assert.Equal(4ul, info.Stats.FramesRejected);
        Assert.Equal(2ul, info.Stats.FramesProcessed);
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
    }

    [Fact]
    public async Task WrongDimensions_AreInvalidArgument()
    {
        string id = (await fixture.Open(width: W, height: H)).SessionId;
        RpcException e = await Submit(RawFrame(id, 64, 48, 0, 1));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("64x48", e.Status.Detail);
        Assert.Contains($"{W}x{H}", e.Status.Detail);
        await AssertNextGoodFrameIsProcessed(id, 2);

        // Without a size at open, the first frame fixes it.
        string id2 = (await fixture.Open()).SessionId;
        await Client.SubmitFrameAsync(RawFrame(id2, W, H, 0, 1), Options());
        e = await Submit(RawFrame(id2, W + 2, H, 0, 2));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id2 }, Options());
    }

    [Fact]
    public async Task OutOfOrderFrames_AreOutOfRange()
    {
        string id = (await fixture.Open()).SessionId;
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 0, 1, captureNs: 2_000), Options());
        RpcException e = await Submit(RawFrame(id, W, H, 0, 2, captureNs: 1_000));
        Assert.Equal(StatusCode.OutOfRange, e.StatusCode);
        Assert.Contains("older than the previous frame", e.Status.Detail);
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 1, 3, captureNs: 2_000), Options()); // same time is fine
        await AssertNextGoodFrameIsProcessed(id, 4);
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
    }

    private static long NowNs() => (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;

    private const long Second = 1_000_000_000;

    [Fact]
    public async Task A_frame_stamped_far_ahead_is_refused_alone_and_does_not_move_the_clock()
    {
        string id = (await fixture.Open()).SessionId;
        long t = NowNs() - 10 * Second;
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 0, 1, captureNs: t), Options());
        RpcException e = await Submit(RawFrame(id, W, H, 1, 2, captureNs: NowNs() + 3600 * Second)); // 1 h ahead
        Assert.Equal(StatusCode.OutOfRange, e.StatusCode);
        Assert.Contains("ahead of the server clock", e.Status.Detail);
        // The clock did not move: the next frame, 33 ms after the good one, is accepted, and so is receive time.
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 2, 3, captureNs: t + 33_000_000), Options());
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 3, 4, captureNs: 0), Options());
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 4, 5, captureNs: t + 66_000_000), Options());
        await AssertNextGoodFrameIsProcessed(id, 6);
        SessionInfo info = await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
        Assert.Equal(1ul, info.Stats.FramesRejected);
        Assert.Equal(5ul, info.Stats.FramesProcessed);
    }

    [Theory]
    [InlineData(-30)]      // NTP/PTP steps the camera clock back 30 s
    [InlineData(-86_400)]  // a camera that restarted with its clock a day off
    public async Task A_clock_stepped_back_re_bases_the_session_and_tells_subscribers(long stepSeconds)
    {
        string id = (await fixture.Open()).SessionId;
        using var sub = Client.Subscribe(new SubscribeRequest { SessionId = id, QueueUpdates = 16 }, Options());
        await WaitForSubscribers(Client, id, 1);
        long t = NowNs() - 5 * Second, stepped = t + stepSeconds * Second;
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 0, 1, captureNs: t), Options());
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 1, 2, captureNs: stepped), Options()); // accepted: re-based
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 2, 3, captureNs: stepped + 33_000_000), Options());
        // A small reordering after the step is still refused.
        RpcException e = await Submit(RawFrame(id, W, H, 3, 4, captureNs: stepped - Second / 2));
        Assert.Equal(StatusCode.OutOfRange, e.StatusCode);
        Assert.Contains("older than the previous frame", e.Status.Detail);

        List<TrackUpdate> updates = await ReadAll(sub, max: 3);
        Assert.Equal([1ul, 2, 3], updates.Select(u => u.Sequence));
        SessionNotice notice = Assert.Single(updates.SelectMany(u => u.Notices));
        Assert.Equal(SessionNotice.Types.Kind.ClockRebased, notice.Kind);
        Assert.Equal(2ul, notice.Sequence);
        Assert.Equal(stepSeconds * Second, notice.ClockStepNs);
        Assert.Contains("re-based", notice.Message);
        Assert.Single(updates[1].Notices); // on the update of the frame that stepped (nothing was in between)
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
    }

    [Fact]
    public async Task A_clock_stepped_forward_is_accepted_without_a_notice()
    {
        string id = (await fixture.Open()).SessionId;
        using var sub = Client.Subscribe(new SubscribeRequest { SessionId = id, QueueUpdates = 16 }, Options());
        await WaitForSubscribers(Client, id, 1);
        long t = NowNs() - 3600 * Second; // a camera an hour slow, then corrected by NTP
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 0, 1, captureNs: t), Options());
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 1, 2, captureNs: NowNs()), Options());
        List<TrackUpdate> updates = await ReadAll(sub, max: 2);
        Assert.Equal([1ul, 2], updates.Select(u => u.Sequence));
        Assert.All(updates, u => Assert.Empty(u.Notices));
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
    }

    [Fact]
    public async Task Points_added_before_the_frame_size_is_known_are_checked_at_the_first_frame()
    {
        string id = (await fixture.Open()).SessionId; // no frame size at open
        using var sub = Client.Subscribe(new SubscribeRequest { SessionId = id, QueueUpdates = 16 }, Options());
        await WaitForSubscribers(Client, id, 1);
        AddPointsResponse added = await Client.AddPointsAsync(new AddPointsRequest
        {
            SessionId = id,
            Points = { new PointQuery { X = 1e9f, Y = 1e9f }, new PointQuery { X = 40, Y = 30 }, new PointQuery { X = W + 40, Y = 50 }, new PointQuery { X = W + 50, Y = 10 } },
        }, Options());
        Assert.Equal([1u, 2, 3, 4], added.PointIds);
        // Removed before any frame: gone, not reported invalid later.
        Assert.Equal([4u], (await Client.RemovePointsAsync(new RemovePointsRequest { SessionId = id, PointIds = { 4 } }, Options())).Removed);
        for (int i = 0; i < 3; i++) await Client.SubmitFrameAsync(RawFrame(id, W, H, i, (ulong)i), Options());
        List<TrackUpdate> updates = await ReadAll(sub, max: 3);

        SessionNotice notice = Assert.Single(updates[0].Notices);
        Assert.Equal(SessionNotice.Types.Kind.PointsInvalid, notice.Kind);
        Assert.Equal([1u, 3], notice.PointIds);
        Assert.Contains($"{W}x{H}", notice.Message);
        foreach (TrackUpdate u in updates)
        {
            Assert.Equal([1u, 2, 3], u.Points.Select(p => p.Id)); // still listed, in id order
            foreach (PointState p in u.Points.Where(p => p.Id != 2))
            {
                Assert.False(p.Visible, $"point {p.Id} outside the image is reported visible at ({p.X}, {p.Y})");
                Assert.Equal(1f, p.OcclusionProbability);
                Assert.Contains("outside the", p.InvalidReason);
            }
            Assert.Equal("", u.Points.Single(p => p.Id == 2).InvalidReason);
            Assert.InRange(u.Points.Single(p => p.Id == 2).X, 0, W);
        }
        Assert.Equal(1e9f, updates[^1].Points[0].X); // the query as asked, not a clamped guess
        Assert.All(updates.Skip(1), u => Assert.Empty(u.Notices));

        RemovePointsResponse removed = await Client.RemovePointsAsync(new RemovePointsRequest { SessionId = id, PointIds = { 1 } }, Options());
        Assert.Equal([1u], removed.Removed);
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 3, 3), Options());
        TrackUpdate last = Assert.Single(await ReadAll(sub, max: 1));
        Assert.Equal([2u, 3], last.Points.Select(p => p.Id));
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
    }

    [Fact]
    public async Task An_unknown_provider_name_is_refused_not_run_on_the_cpu()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() =>
            Client.OpenSessionAsync(new OpenSessionRequest { CameraId = "c", Provider = "gpu-please" }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("gpu-please", e.Status.Detail);
    }

    [Fact]
    public async Task UnknownSession_IsNotFound_ForEveryCall()
    {
        RpcException e = await Submit(RawFrame("nosuchsession", W, H, 0, 1));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains("nosuchsession", e.Status.Detail);
        e = await Assert.ThrowsAsync<RpcException>(() => Client.AddPointsAsync(new AddPointsRequest { SessionId = "nosuchsession", Points = { new PointQuery() } }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        e = await Assert.ThrowsAsync<RpcException>(() => Client.GetSessionAsync(new GetSessionRequest { SessionId = "nosuchsession" }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        using var sub = Client.Subscribe(new SubscribeRequest { SessionId = "nosuchsession" }, Options());
        e = await Assert.ThrowsAsync<RpcException>(() => sub.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        using var ingest = Client.StreamFrames(Options());
        await ingest.RequestStream.WriteAsync(RawFrame("nosuchsession", W, H, 0, 1));
        e = await Assert.ThrowsAsync<RpcException>(() => ingest.ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
    }

    [Fact]
    public async Task NanAndOutOfImageQueries_AreInvalidArgument_NamingThePoint()
    {
        string id = (await fixture.Open(width: W, height: H)).SessionId;
        async Task<RpcException> Add(params PointQuery[] points) =>
            await Assert.ThrowsAsync<RpcException>(() => Client.AddPointsAsync(new AddPointsRequest { SessionId = id, Points = { points } }, Options()).ResponseAsync);

        RpcException e = await Add(new PointQuery { X = 5, Y = 5 }, new PointQuery { X = float.NaN, Y = 3 });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("point 1", e.Status.Detail);
        Assert.Contains("NaN", e.Status.Detail);
        e = await Add(new PointQuery { X = float.PositiveInfinity, Y = 3 });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        e = await Add(new PointQuery { X = W + 1, Y = 3 });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains($"{W}x{H}", e.Status.Detail);
        e = await Add(new PointQuery { X = 3, Y = -1 });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);

        // Nothing was added by the failed calls: the next point gets id 1, and frames still flow.
        AddPointsResponse ok = await Client.AddPointsAsync(new AddPointsRequest { SessionId = id, Points = { new PointQuery { X = W, Y = H } } }, Options());
        Assert.Equal([1u], ok.PointIds);
        await AssertNextGoodFrameIsProcessed(id, 1);
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
    }

    [Fact]
    public async Task OversizedMessage_IsResourceExhausted_AndTheSessionGoesOn()
    {
        string id = (await fixture.Open()).SessionId;
        var big = new Frame
        {
            SessionId = id,
            Raw = new RawImage { Width = 1024, Height = 1024, PixelFormat = Protocol.V1.PixelFormat.Rgb8, Data = ByteString.CopyFrom(new byte[1024 * 1024 * 3]) },
        };
        RpcException e = await Submit(big);
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.False(string.IsNullOrEmpty(e.Status.Detail));

        using var ingest = Client.StreamFrames(Options());
        try
        {
            await ingest.RequestStream.WriteAsync(RawFrame(id, W, H, 0, 1));
            await ingest.RequestStream.WriteAsync(big);
            await ingest.RequestStream.CompleteAsync();
        }
        catch (RpcException)
        {
            // the server may end the call before the client finishes writing
        }
        e = await Assert.ThrowsAsync<RpcException>(() => ingest.ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        await AssertNextGoodFrameIsProcessed(id, 2);
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
    }

    [Fact]
    public async Task StreamFrames_SkipsBadFramesInBand_AndSummarisesThem()
    {
        string id = (await fixture.Open()).SessionId;
        using var ingest = Client.StreamFrames(Options());
        await ingest.RequestStream.WriteAsync(RawFrame(id, W, H, 0, 1, captureNs: 100));
        await ingest.RequestStream.WriteAsync(RawFrame(id, W, H, 0, 2, captureNs: 50)); // out of order
        await ingest.RequestStream.WriteAsync(RawFrame(id, 10, 10, 0, 3, captureNs: 200)); // wrong size
        await ingest.RequestStream.WriteAsync(RawFrame(id, W, H, 1, 4, captureNs: 300));
        await ingest.RequestStream.CompleteAsync();
        IngestSummary summary = await ingest.ResponseAsync;
        Assert.Equal(4ul, summary.FramesReceived);
        Assert.Equal(2ul, summary.FramesQueued);
        Assert.Equal(2ul, summary.FramesRejected);
        Assert.Equal(3ul, summary.LastRejection.Sequence);
        Assert.Equal((int)StatusCode.InvalidArgument, summary.LastRejection.Code);
        await WaitUntil(async () => (await Client.GetSessionAsync(new GetSessionRequest { SessionId = id }, Options())).Stats.FramesProcessed == 2, "2 frames processed");

        // A frame naming another session ends the call with INVALID_ARGUMENT.
        using var mixed = Client.StreamFrames(Options());
        await mixed.RequestStream.WriteAsync(RawFrame(id, W, H, 0, 5, captureNs: 400));
        await mixed.RequestStream.WriteAsync(RawFrame("other", W, H, 0, 6, captureNs: 500));
        RpcException e = await Assert.ThrowsAsync<RpcException>(() => mixed.ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());
    }
}
