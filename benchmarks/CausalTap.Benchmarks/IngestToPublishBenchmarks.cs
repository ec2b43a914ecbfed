using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using CausalTap.Protocol.V1;
using CausalTap.Server;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace CausalTap.Benchmarks;

/// <summary>
/// The whole server path of one frame, without the network: a 640x480 JPEG <see cref="Frame"/> as the gRPC layer
/// hands it over, through the session's ingest checks and queue, the engine loop (decode, the bundled default model
/// on the CPU, the TrackUpdate) and publishing, until a subscriber reads the update. The allocation column is what
/// the server allocates per frame on that path (all threads), which the tracker's own 0 B/frame does not cover.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RuntimeMoniker.Net10_0, warmupCount: 3, iterationCount: 10)]
public class IngestToPublishBenchmarks
{
    private ModelCache _models = null!;
    private TrackingSession _session = null!;
    private IAsyncEnumerator<SessionEvent> _updates = null!;
    private Frame _frame = null!;

    [Params(16, 256)]
    public int Points { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new TrackerServerOptions { ModelsDirectory = TestFrames.ModelsDirectory(), Provider = "cpu" };
        _models = new ModelCache(options, (_, _) => { });
        EngineLease lease = _models.Create("", "cpu", null);
        var settings = new SessionSettings("bench", "cam", 640, 480, IngestPolicy.Block, 2, Points, 4096, 4096, options.MaxCaptureAhead, options.ClockStep);
        _session = new TrackingSession(settings, lease, recorder: null, TimeProvider.System, NullLogger.Instance);
        var request = new AddPointsRequest { SessionId = "bench" };
        int side = (int)Math.Ceiling(Math.Sqrt(Points));
        for (int i = 0; i < Points; i++)
            request.Points.Add(new PointQuery { X = 20 + 600f * (i % side) / side, Y = 20 + 440f * (i / side) / side });
        _session.AddPoints(request);
        _updates = _session.Subscribe(2, wantsRejections: true).ReadAllAsync(CancellationToken.None).GetAsyncEnumerator();
        _frame = new Frame { SessionId = "bench", Encoded = new EncodedImage { Data = ByteString.CopyFrom(TestFrames.Jpeg640x480()) } };
        for (int i = 0; i < 5; i++) FrameToUpdate().GetAwaiter().GetResult();
    }

    /// <summary>Submit one frame and wait for its update.</summary>
    [Benchmark]
    public async Task<int> FrameToUpdate()
    {
        await _session.SubmitAsync(_frame, null, CancellationToken.None).ConfigureAwait(false);
        if (!await _updates.MoveNextAsync().ConfigureAwait(false)) throw new InvalidOperationException("the session ended");
        return _updates.Current.Update?.Points.Count ?? throw new InvalidOperationException($"frame rejected: {_updates.Current.Rejection}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.CloseAsync("benchmark done").GetAwaiter().GetResult();
        _models.Dispose();
    }
}
