using CausalTap.Pipeline;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using CausalTap.Imaging;
using CausalTap.Protocol.V1;
using CausalTap.Tracking;
using Google.Protobuf;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Server.Tests;

/// <summary>Paths, ORT set-up, frames and clients shared by the tests.</summary>
internal static class TestSupport
{
    public static string RepoRoot { get; } = CausalTap.TestShared.TestRepo.Root;

    public static string ModelsDirectory => Path.Combine(RepoRoot, "models");

    /// <summary>../shared/data next to the repository (real clips); absent on some machines.</summary>
    public static string SharedData => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));

    public static string TempDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "causaltap-server-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static Tracker.TrackerClient Client(string address, Metadata? headers = null, HttpMessageHandler? handler = null) =>
        new(GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler }));

    /// <summary>A grpc.health.v1 client (Grpc.HealthCheck's generated one) for the server at <paramref name="address"/>.</summary>
    public static Grpc.Health.V1.Health.HealthClient HealthClient(string address) => new(GrpcChannel.ForAddress(address));

    /// <summary>Call options with a generous deadline so a broken server fails the test instead of hanging it.</summary>
    public static CallOptions Options(Metadata? headers = null, int seconds = 120) =>
        new(headers, DateTime.UtcNow.AddSeconds(seconds));

    /// <summary>
    /// RGB8 pixels of a textured scene (smooth colour gradients plus a few bright discs) shifted right by
    /// <paramref name="shift"/> pixels: something a tracker can follow.
    /// </summary>
    public static byte[] Pixels(int width, int height, int shift)
    {
        var data = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int sx = x - shift;
                int i = (y * width + x) * 3;
                double disc = 0;
                foreach ((int cx, int cy) in new[] { (40, 30), (100, 80), (130, 40) })
                {
                    double d2 = (sx - cx) * (sx - cx) + (y - cy) * (y - cy);
                    disc = Math.Max(disc, Math.Exp(-d2 / 60.0));
                }
                data[i] = (byte)Math.Clamp(60 + 40 * Math.Sin(sx * 0.15) + 150 * disc, 0, 255);
                data[i + 1] = (byte)Math.Clamp(90 + 50 * Math.Cos(y * 0.21 + sx * 0.05) + 120 * disc, 0, 255);
                data[i + 2] = (byte)Math.Clamp(120 + 60 * Math.Sin((sx + y) * 0.09), 0, 255);
            }
        }
        return data;
    }

    public static Frame RawFrame(string sessionId, int width, int height, int shift, ulong sequence, long captureNs = 0) => new()
    {
        SessionId = sessionId,
        Sequence = sequence,
        CaptureTimeNs = captureNs,
        Raw = new RawImage { Width = (uint)width, Height = (uint)height, PixelFormat = Protocol.V1.PixelFormat.Rgb8, Data = ByteString.CopyFrom(Pixels(width, height, shift)) },
    };

    public static Frame JpegFrame(string sessionId, byte[] jpeg, ulong sequence, long captureNs = 0) => new()
    {
        SessionId = sessionId,
        Sequence = sequence,
        CaptureTimeNs = captureNs,
        Encoded = new EncodedImage { Data = ByteString.CopyFrom(jpeg) },
    };

    /// <summary>Encodes RGB8 pixels as a JPEG with the ffmpeg CLI (installed by scripts/setup.sh).</summary>
    public static byte[] EncodeJpeg(byte[] rgb, int width, int height)
    {
        var info = new ProcessStartInfo("ffmpeg")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{width}x{height}", "-i", "-",
                     "-frames:v", "1", "-q:v", "2", "-f", "image2pipe", "-c:v", "mjpeg", "-" })
        {
            info.ArgumentList.Add(a);
        }
        using Process p = Process.Start(info)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        var output = new MemoryStream();
        Task copy = p.StandardOutput.BaseStream.CopyToAsync(output);
        p.StandardInput.BaseStream.Write(rgb);
        p.StandardInput.Close();
        copy.Wait();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"ffmpeg failed: {err.Result}");
        return output.ToArray();
    }

    /// <summary>Polls <paramref name="condition"/> until it holds (a failing server fails the test after the timeout).</summary>
    public static async Task WaitUntil(Func<Task<bool>> condition, string what, int seconds = 60)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(seconds)) throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    public static Task WaitForSubscribers(Tracker.TrackerClient client, string sessionId, uint count, Metadata? headers = null) =>
        WaitUntil(async () => (await client.GetSessionAsync(new GetSessionRequest { SessionId = sessionId }, Options(headers))).Stats.Subscribers == count,
            $"{count} subscribers on {sessionId}");

    public static async Task<List<TrackUpdate>> ReadAll(AsyncServerStreamingCall<TrackUpdate> call, int? max = null)
    {
        var list = new List<TrackUpdate>();
        while ((max is null || list.Count < max) && await call.ResponseStream.MoveNext(CancellationToken.None)) list.Add(call.ResponseStream.Current);
        return list;
    }
}

/// <summary>
/// A stand-in engine: each point moves +1 px in x per frame. <see cref="Gate"/> (when set) holds every Track until
/// the test releases it, and <see cref="Entered"/> counts Track calls begun, so queue tests are deterministic.
/// </summary>
internal sealed class FakeEngine : IFrameTracker
{
    private readonly List<(int Id, float X, float Y)> _points = new();
    private int _nextId = 1;

    public SemaphoreSlim? Gate { get; init; }
    public SemaphoreSlim Entered { get; } = new(0);
    public bool Disposed { get; private set; }

    public int AddPoint(float x, float y)
    {
        _points.Add((_nextId, x, y));
        return _nextId++;
    }

    public bool RemovePoint(int id) => _points.RemoveAll(p => p.Id == id) > 0;

    public int PointCount => _points.Count;

    public long FrameCount { get; private set; }

    public void Track(RgbImage frame, List<PointEstimate> points)
    {
        Entered.Release();
        Gate?.Wait();
        points.Clear();
        for (int i = 0; i < _points.Count; i++)
        {
            (int id, float x, float y) = _points[i];
            points.Add(new PointEstimate(id, x, y, true, 0.1f, 0.2f));
            _points[i] = (id, x + 1, y);
        }
        FrameCount++;
    }

    public void Dispose() => Disposed = true;
}

internal sealed class FakeEngineFactory(Func<FakeEngine>? make = null) : ITrackingEngineFactory
{
    public List<FakeEngine> Created { get; } = new();

    public EngineLease Create(string model, string provider, TrackingMethod? method)
    {
        var engine = make?.Invoke() ?? new FakeEngine();
        lock (Created) Created.Add(engine);
        return new EngineLease(engine, "fake", "cpu", method ?? TrackingMethod.Tapir, 256, 256);
    }

    public void Dispose()
    {
    }
}

/// <summary>A clock the test moves by hand (timers still run on real time; only readings are manual).</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private long _ticks = DateTimeOffset.UtcNow.Ticks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
}

/// <summary>Starts servers for a test and stops them at the end.</summary>
internal static class Servers
{
    public static TrackerServerOptions Options(string? episodes = null) => new()
    {
        Port = 0,
        ModelsDirectory = TestSupport.ModelsDirectory,
        EpisodesDirectory = episodes ?? TestSupport.TempDirectory(),
        SessionIdleTimeout = TimeSpan.Zero,
        ShutdownTimeout = TimeSpan.FromSeconds(30),
    };

    public static Task<TrackerServer> StartFake(TrackerServerOptions options, FakeEngineFactory engines) =>
        TrackerServer.StartAsync(options, null, engines);
}
