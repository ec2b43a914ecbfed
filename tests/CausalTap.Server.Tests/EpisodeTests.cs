using CausalTap.Episodes;
using Grpc.Core;
using CausalTap.Protocol.V1;
using static CausalTap.Server.Tests.TestSupport;

namespace CausalTap.Server.Tests;

/// <summary>Recording a session, listing episodes and replaying one through the real model.</summary>
[Collection(RealModelCollection.Name)]
public sealed class EpisodeTests(RealModelFixture fixture)
{
    private const int W = 160, H = 120;
    private Tracker.TrackerClient Client => fixture.Client;

    [Fact]
    public async Task RecordedSession_IsListed_AndReplaysToTheSameTracks()
    {
        string name = $"rec-{Guid.NewGuid():N}"[..12];
        SessionInfo session = await fixture.Open(record: true, episode: name);
        string id = session.SessionId;
        Assert.Equal($"{name}.mcap", session.EpisodePath); // the file name only: no server path on the wire
        using var sub = Client.Subscribe(new SubscribeRequest { SessionId = id, QueueUpdates = 32 }, Options());
        await WaitForSubscribers(Client, id, 1);
        await Client.SubmitFrameAsync(RawFrame(id, W, H, 0, 0, captureNs: 1_000_000), Options());
        await Client.AddPointsAsync(new AddPointsRequest { SessionId = id, Points = { new PointQuery { X = 40, Y = 30 }, new PointQuery { X = 130, Y = 40 } } }, Options());
        for (int i = 1; i < 5; i++) await Client.SubmitFrameAsync(RawFrame(id, W, H, i, (ulong)i, captureNs: 1_000_000 + i * 33_000_000L), Options());
        List<TrackUpdate> live = await ReadAll(sub, max: 5);
        await Client.CloseSessionAsync(new CloseSessionRequest { SessionId = id }, Options());

        // Closing completed the file: the summary is there (not a crash-recovery scan).
        EpisodeSummary summary = EpisodeCatalog.Summarize(Path.Combine(fixture.EpisodesDirectory, session.EpisodePath));
        Assert.Equal(5, summary.Frames);
        Assert.Equal(id, summary.Metadata!.SessionId);

        ListEpisodesResponse list = await Client.ListEpisodesAsync(new ListEpisodesRequest(), Options());
        EpisodeInfo listed = Assert.Single(list.Episodes, e => e.Name == $"{name}.mcap");
        Assert.Equal(5ul, listed.Frames);
        Assert.Equal("test_cam", listed.CameraId);
        Assert.Equal("causaltap-default", listed.Model);

        using var replay = Client.Replay(new ReplayRequest { Episode = $"{name}.mcap" }, Options());
        List<TrackUpdate> replayed = await ReadAll(replay);
        Assert.Equal(live.Select(u => u.FrameIndex), replayed.Select(u => u.FrameIndex));
        for (int f = 0; f < live.Count; f++)
        {
            Assert.Equal(live[f].Points.Select(p => p.Id), replayed[f].Points.Select(p => p.Id));
            for (int p = 0; p < live[f].Points.Count; p++)
            {
                Assert.Equal(live[f].Points[p].X, replayed[f].Points[p].X, 3);
                Assert.Equal(live[f].Points[p].Y, replayed[f].Points[p].Y, 3);
            }
        }
    }

    [Fact]
    public async Task Replay_RejectsPathsAndMissingFiles()
    {
        foreach (string bad in new[] { "../secret.mcap", "/etc/passwd", "a/b.mcap", ".." })
        {
            using var call = Client.Replay(new ReplayRequest { Episode = bad }, Options());
            var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        }
        using var missing = Client.Replay(new ReplayRequest { Episode = "missing.mcap" }, Options());
        var notFound = await Assert.ThrowsAsync<RpcException>(() => missing.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.NotFound, notFound.StatusCode);

        var open = await Assert.ThrowsAsync<RpcException>(() =>
            Client.OpenSessionAsync(new OpenSessionRequest { CameraId = "c", Record = true, EpisodeName = "../escape" }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, open.StatusCode);
    }

    [Fact]
    public async Task Replay_of_an_empty_file_is_data_loss_not_an_empty_episode()
    {
        string name = $"empty-{Guid.NewGuid():N}.mcap";
        await File.WriteAllBytesAsync(Path.Combine(fixture.EpisodesDirectory, name), []);
        using var call = Client.Replay(new ReplayRequest { Episode = name }, Options());
        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.DataLoss, e.StatusCode);
        Assert.Contains("0 bytes", e.Status.Detail);
    }
}
