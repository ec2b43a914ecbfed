using CausalTap.Protocol.V1;
using Microsoft.Extensions.Logging.Abstractions;
using static CausalTap.Server.Tests.TestSupport;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Server.Tests;

/// <summary>Recording runs on its own task, in tracker order, and a slow disk never holds back the subscribers.</summary>
public sealed class RecordingTests
{
    private const int W = 32, H = 24;

    /// <summary>A recorder whose disk is stuck until the test releases it.</summary>
    private sealed class StuckRecorder : ISessionRecorder
    {
        public readonly SemaphoreSlim Disk = new(0);
        public readonly SemaphoreSlim FirstWriteStarted = new(0);
        public readonly List<string> Written = [];
        public bool Disposed;

        public string Path => "stuck.mcap";

        public void WriteTrackedFrame(long frameIndex, Frame frame, long receiveTimeNs, TrackUpdate update)
        {
            FirstWriteStarted.Release();
            Disk.Wait();
            lock (Written) Written.Add($"frame {frameIndex}");
        }

        public void WritePointsAdded(long queryFrameIndex, AddPointsRequest request, AddPointsResponse response, long logTimeNs)
        {
            lock (Written) Written.Add($"add@{queryFrameIndex}");
        }

        public void WritePointsRemoved(long frameIndex, RemovePointsRequest request, RemovePointsResponse response, long logTimeNs)
        {
            lock (Written) Written.Add($"remove@{frameIndex}");
        }

        public void Dispose() => Disposed = true;
    }

    [Fact]
    public async Task A_stuck_recording_disk_does_not_delay_updates_and_loses_nothing()
    {
        var recorder = new StuckRecorder();
        var settings = new SessionSettings("s1", "cam", W, H, IngestPolicy.Block, 4, 8, 4096, 4096, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1));
        var session = new TrackingSession(settings, new EngineLease(new FakeEngine(), "fake", "cpu", TrackingMethod.Tapir, 256, 256),
            recorder, TimeProvider.System, NullLogger.Instance);
        Subscriber subscriber = session.Subscribe(16, wantsRejections: false);
        session.AddPoints(new AddPointsRequest { SessionId = "s1", Points = { new PointQuery { X = 5, Y = 5 } } });

        const int frames = 6;
        for (int i = 0; i < frames; i++)
            await session.SubmitAsync(RawFrame("s1", W, H, i, (ulong)i), null, CancellationToken.None);

        // Every update is published while the disk is still stuck in its first frame write.
        var seen = new List<long>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using (IAsyncEnumerator<SessionEvent> updates = subscriber.ReadAllAsync(timeout.Token).GetAsyncEnumerator(timeout.Token))
        {
            while (seen.Count < frames && await updates.MoveNextAsync()) seen.Add(updates.Current.Update!.FrameIndex);
        }
        Assert.Equal(Enumerable.Range(0, frames).Select(i => (long)i), seen);
        Assert.True(await recorder.FirstWriteStarted.WaitAsync(TimeSpan.FromSeconds(10)));
        lock (recorder.Written) Assert.Equal(["add@0"], recorder.Written);

        // Released, the disk gets everything, in tracker order, and closing waits for it.
        recorder.Disk.Release(frames);
        await session.CloseAsync("test").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["add@0", .. Enumerable.Range(0, frames).Select(i => $"frame {i}")], recorder.Written);
        Assert.True(recorder.Disposed);
    }
}
