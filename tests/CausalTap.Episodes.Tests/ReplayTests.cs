using CausalTap.Episodes.Tests.TestSupport;
using CausalTap.Protocol.V1;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Episodes.Tests;

/// <summary>
/// Replay: deterministic, equal to the live session it was recorded from, point ids kept, realtime pacing by the
/// recorded capture times, and recording the replay.
/// <para>Equality is bitwise: the replay feeds the same bytes through the same decoder and the same ONNX Runtime
/// session with the same point commands at the same frames, and ORT's CPU kernels are deterministic for a fixed
/// thread count, so any difference would be a replay bug (a command a frame late, a lost reset), not noise. A replay
/// on another provider or thread count may differ in the last bits; `causaltap replay` reports that difference.</para>
/// </summary>
[Collection(EpisodeCollection.Name)]
public sealed class ReplayTests(EpisodeFixture fixture) : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private async Task<List<TrackUpdate>> Replay(string path, ReplayOptions? options = null)
    {
        var list = new List<TrackUpdate>();
        await foreach (var u in EpisodeReplayer.ReplayAsync(path, fixture.Model, TrackingMethod.Tapir, options ?? new ReplayOptions()))
        {
            list.Add(u);
        }
        return list;
    }

    [Fact]
    public async Task Replay_IsDeterministicAndEqualsTheLiveSessionBitwise()
    {
        var path = _tmp.File("session.mcap");
        var live = LiveSession.Record(path, LiveSession.JpegFrames(fixture.Jpegs), fixture.Model, TrackingMethod.Tapir, LiveSession.Script);

        var first = await Replay(path);
        var second = await Replay(path);

        AssertSameTracks(live, first);
        AssertSameTracks(first, second);
        for (var k = 0; k < live.Count; k++)
        {
            Assert.Equal(live[k].Sequence, first[k].Sequence);          // the camera's sequence, from the recorded update
            Assert.Equal(live[k].CaptureTimeNs, first[k].CaptureTimeNs);
            Assert.Equal("session-1", first[k].SessionId);
        }
        // The engine moved the points (the check would be empty if every point stayed at its query).
        Assert.Contains(first[^1].Points, p => p.X != 40.5f && p.X != 120f && p.X != 60f);
    }

    [Fact]
    public async Task Replay_KeepsIdsOfPointsAddedMidEpisodeAndRemoved()
    {
        var path = _tmp.File("session.mcap");
        LiveSession.Record(path, LiveSession.JpegFrames(fixture.Jpegs), fixture.Model, TrackingMethod.Tapir, LiveSession.Script);

        var updates = await Replay(path);

        uint[] Ids(int k) => updates[k].Points.Select(p => p.Id).ToArray();
        Assert.Equal(EpisodeFixture.FrameCount, updates.Count);
        Assert.Equal(new uint[] { 1u, 2, 3 }, Ids(0));
        Assert.Equal(new uint[] { 1u, 2, 3 }, Ids(2));
        Assert.Equal(new uint[] { 1u, 2, 3, 4 }, Ids(3));     // added at frame 3 (its command recorded after frame 3's image)
        Assert.Equal(new uint[] { 1u, 3, 4 }, Ids(5));        // 2 removed before frame 5
        Assert.Equal(new uint[] { 1u, 3, 4 }, Ids(9));
    }

    [Fact]
    public async Task Replay_OfARawSession_EqualsTheLiveSession()
    {
        var path = _tmp.File("raw.mcap");
        var frames = LiveSession.JpegFrames(fixture.Jpegs).Take(4).Select((f, k) =>
        {
            using var rgb = fixture.Decode(k);
            var stride = rgb.Width * 3 + 5;
            var data = new byte[stride * rgb.Height];
            for (var y = 0; y < rgb.Height; y++)
            {
                rgb.Row(y).CopyTo(data.AsSpan(y * stride));
            }
            return new Frame
            {
                CaptureTimeNs = f.CaptureTimeNs,
                Sequence = f.Sequence,
                Raw = new RawImage { Width = (uint)rgb.Width, Height = (uint)rgb.Height, Stride = (uint)stride, PixelFormat = PixelFormat.Rgb8, Data = Google.Protobuf.ByteString.CopyFrom(data) },
            };
        }).ToList();
        var live = LiveSession.Record(path, frames, fixture.Model, TrackingMethod.Tapir, [new(0, Add: [(50f, 50f), (100f, 20f)])]);

        AssertSameTracks(live, await Replay(path));
    }

    [Fact]
    public async Task Realtime_WaitsForEachFrameUntilItsRecordedCaptureOffset()
    {
        var path = _tmp.File("session.mcap");
        LiveSession.Record(path, LiveSession.JpegFrames(fixture.Jpegs).Take(5).ToList(), fixture.Model, TrackingMethod.Tapir, LiveSession.Script);
        var clock = new ManualClock();

        var paced = await Replay(path, new ReplayOptions(Realtime: true, Clock: clock));
        var unpaced = await Replay(path, new ReplayOptions(Realtime: false, Clock: new ManualClock()));

        // The manual clock only moves when the replayer waits: each frame waits until its capture offset from the first
        // frame (Task.Delay's timers have millisecond resolution, and the offsets are measured, so errors do not add up).
        var interval = TimeSpan.FromTicks(LiveSession.FrameIntervalNs / 100);
        var ms = TimeSpan.FromMilliseconds(1);
        Assert.Equal(4, clock.Waits.Count);
        Assert.All(clock.Waits, w => Assert.InRange(w, interval - ms, interval + ms));
        Assert.InRange(clock.Now - ManualClock.Start, 4 * interval - ms, 4 * interval + ms);
        Assert.Equal((clock.Now - ManualClock.Start).Ticks * 100, paced[4].ReceiveTimeNs - paced[0].ReceiveTimeNs);
        Assert.All(unpaced, u => Assert.Equal(unpaced[0].ReceiveTimeNs, u.ReceiveTimeNs)); // max speed never waits
        AssertSameTracks(unpaced, paced);
    }

    [Fact]
    public async Task ReplayWithOutput_RecordsAnEpisodeThatReplaysTheSame()
    {
        var path = _tmp.File("session.mcap");
        LiveSession.Record(path, LiveSession.JpegFrames(fixture.Jpegs), fixture.Model, TrackingMethod.Tapir, LiveSession.Script);
        var outPath = _tmp.File("replayed.mcap");

        List<TrackUpdate> first;
        using (var output = EpisodeRecorder.Create(outPath, LiveSession.Metadata() with { SessionId = "replay-1" }))
        {
            first = await Replay(path, new ReplayOptions(Output: output, SessionId: "replay-1"));
        }
        Assert.All(first, u => Assert.Equal("replay-1", u.SessionId));

        using var reader = EpisodeReader.Open(outPath);
        var events = reader.ReadEvents().ToList();
        Assert.Equal(first, events.OfType<EpisodeUpdate>().Select(e => e.Update));
        var commands = events.OfType<EpisodeCommand>().Select(e => e.Command).ToList();
        Assert.Equal(new long[] { 0, 3, 5, 6 }, commands.Select(c => c.FrameIndex));
        Assert.Equal(new uint[] { 1u, 2, 3 }, commands[0].Added.PointIds);
        Assert.Equal(new uint[] { 2u }, commands[2].Removed.PointIds);
        Assert.Equal(new uint[] { 99u }, commands[3].Removed.Unknown);
        AssertSameTracks(first, await Replay(outPath));
    }

    [Fact]
    public async Task Replay_OfAMissingFile_Throws()
    {
        await Assert.ThrowsAsync<FileNotFoundException>(() => Replay(_tmp.File("missing.mcap")));
    }

    private static void AssertSameTracks(IReadOnlyList<TrackUpdate> expected, IReadOnlyList<TrackUpdate> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var k = 0; k < expected.Count; k++)
        {
            Assert.Equal(expected[k].FrameIndex, actual[k].FrameIndex);
            Assert.Equal((expected[k].FrameWidth, expected[k].FrameHeight), (actual[k].FrameWidth, actual[k].FrameHeight));
            // PointState equality compares the floats exactly: bitwise (see the class comment).
            Assert.Equal(expected[k].Points, actual[k].Points);
        }
    }

    /// <summary>A clock that stands still until someone waits on it; each wait advances it by the wait and completes at once.</summary>
    private sealed class ManualClock : TimeProvider
    {
        public static readonly DateTimeOffset Start = new(2025, 11, 21, 8, 0, 0, TimeSpan.Zero);

        private readonly Lock _lock = new();

        public DateTimeOffset Now { get; private set; } = Start;

        public List<TimeSpan> Waits { get; } = [];

        public override DateTimeOffset GetUtcNow()
        {
            lock (_lock)
            {
                return Now;
            }
        }

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => (GetUtcNow() - Start).Ticks;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            lock (_lock)
            {
                Waits.Add(dueTime);
                Now += dueTime;
            }
            ThreadPool.QueueUserWorkItem(_ => callback(state));
            return new NoTimer();
        }

        private sealed class NoTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
