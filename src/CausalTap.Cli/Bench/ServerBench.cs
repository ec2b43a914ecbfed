using System.CommandLine;
using CausalTap.Imaging.Video;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using CausalTap.Protocol.V1;
using CausalTap.Server;

namespace CausalTap.Cli.Bench;

/// <summary>
/// <c>causaltap bench server</c>: N concurrent camera streams paced at --fps with --points points each, plus one
/// subscriber per stream, against a server on loopback (started in this process, or --server). Reports per N:
/// frame -> update latency from the server's own timestamps (receive -> publish) and as the client sees it
/// (send -> update received, one Stopwatch clock), frames sent/processed/dropped and the achieved update rate.
/// </summary>
internal static class ServerBenchmark
{
    public sealed record Settings(int[] Streams, int Points, double Fps, double Seconds, double Warmup, string? Clip, int Width,
        string? Server, string? Token, string? Model, bool Json, bool Record = false);

    public sealed record Row(int Streams, int Points, double TargetFps, double AchievedFpsPerStream, long Sent, long Processed, long Dropped, long Rejected,
        LatencyStats? ServerLatency, LatencyStats? EndToEnd, string LoadBefore, string LoadAfter);

    public static Command Create()
    {
        var streams = new Option<string>("--streams") { Description = "Comma-separated numbers of concurrent streams to measure.", DefaultValueFactory = _ => "1,2,4" };
        var points = new Option<int>("--points") { Description = "Query points per stream.", DefaultValueFactory = _ => 256 };
        var fps = new Option<double>("--fps") { Description = "Frames per second each camera sends.", DefaultValueFactory = _ => 30 };
        var seconds = new Option<double>("--seconds") { Description = "Measured seconds per stream count.", DefaultValueFactory = _ => 20 };
        var warmup = new Option<double>("--warmup") { Description = "Unmeasured seconds first (model sessions, JIT, points' first frame).", DefaultValueFactory = _ => 3 };
        var clip = new Option<string?>("--clip") { Description = "Video to take frames from (default: ../shared/data/robot_real/umi_cup_fullframe.mp4 when present, else the synthetic moving pattern)." };
        var width = new Option<int>("--width") { Description = "Frame width sent (clip frames are scaled, aspect kept).", DefaultValueFactory = _ => 640 };
        var server = new Option<string?>("--server") { Description = "Measure an external server (host:port) instead of one started in this process." };
        var token = new Option<string?>("--token") { Description = "Bearer token for --server." };
        var model = new Option<string?>("--model") { Description = "Model of the sessions (default: the server's default)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        var record = new Option<bool>("--record") { Description = "Record every session to an episode (in a temporary folder) while measuring." };
        streams.Validators.Add(r => { if (!BenchCommand.TryParseCounts(r.GetValueOrDefault<string>(), out _)) r.AddError("--streams must be comma-separated counts >= 1, e.g. 1,2,4."); });
        points.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 0 or > 4096) r.AddError("--points must be in 0..4096."); });
        fps.Validators.Add(r => { if (r.GetValueOrDefault<double>() is <= 0 or > 240) r.AddError("--fps must be in (0, 240]."); });
        seconds.Validators.Add(r => { if (r.GetValueOrDefault<double>() is < 1 or > 3600) r.AddError("--seconds must be in 1..3600."); });
        warmup.Validators.Add(r => { if (r.GetValueOrDefault<double>() is < 0 or > 600) r.AddError("--warmup must be in 0..600."); });
        width.Validators.Add(r => { int w = r.GetValueOrDefault<int>(); if (w < 16 || w > 4096 || w % 2 == 1) r.AddError("--width must be an even number in 16..4096."); });

        var command = new Command("server", "End-to-end server benchmark: N paced camera streams with points and a subscriber each; latency p50/p99, frames processed/dropped, fps.")
        {
            streams, points, fps, seconds, warmup, clip, width, server, token, model, json, record,
        };
        command.SetAction((parse, ct) => ClientErrors.RunAsync(ct, ct =>
        {
            BenchCommand.TryParseCounts(parse.GetValue(streams), out int[] counts);
            var settings = new Settings(counts, parse.GetValue(points), parse.GetValue(fps), parse.GetValue(seconds), parse.GetValue(warmup),
                parse.GetValue(clip), parse.GetValue(width), parse.GetValue(server), parse.GetValue(token), parse.GetValue(model), parse.GetValue(json), parse.GetValue(record));
            return RunAsync(settings, Console.Out, Console.Error, ct);
        }));
        return command;
    }

    public static async Task<int> RunAsync(Settings settings, TextWriter output, TextWriter log, CancellationToken ct)
    {
        (List<SourceFrame> frames, string frameSource) = LoadFrames(settings);
        log.WriteLine($"frames: {frames.Count} x {frames[0].Width}x{frames[0].Height} JPEG from {frameSource}");

        TrackerServer? inProcess = null;
        string episodes = Path.Combine(Path.GetTempPath(), "causaltap-bench-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            if (settings.Server is null)
            {
                var options = new TrackerServerOptions
                {
                    Host = "127.0.0.1", Port = 0, ModelsDirectory = Paths.Models, EpisodesDirectory = episodes,
                    MaxPointsPerSession = Math.Max(settings.Points, 256), MaxSessions = Math.Max(16, settings.Streams.Max()),
                };
                inProcess = await TrackerServer.StartAsync(options, cancellationToken: ct);
                log.WriteLine($"server: in this process at {inProcess.Address}, default model {inProcess.DefaultModel}");
            }
            using ServerConnection server = ServerConnection.Open(inProcess?.Address ?? settings.Server!, settings.Token);
            var rows = new List<Row>();
            foreach (int n in settings.Streams)
            {
                log.WriteLine($"measuring {n} stream(s): {settings.Warmup:0.#} s warm-up + {settings.Seconds:0.#} s ...");
                rows.Add(await RunScenarioAsync(server, frames, n, settings, ct));
            }
            Print(rows, settings, frameSource, frames[0], output);
            return 0;
        }
        finally
        {
            if (inProcess is not null) await inProcess.DisposeAsync();
            if (Directory.Exists(episodes)) Directory.Delete(episodes, recursive: true);
        }
    }

    /// <summary>Up to 90 frames, JPEG-encoded once up front so the cameras cost nothing while measuring.</summary>
    internal static (List<SourceFrame> Frames, string Source) LoadFrames(Settings settings)
    {
        string? clip = settings.Clip;
        if (clip is null)
        {
            string shared = Path.GetFullPath(Path.Combine(Paths.Home, "..", "shared", "data", "robot_real", "umi_cup_fullframe.mp4"));
            if (File.Exists(shared)) clip = shared;
        }
        else if (!File.Exists(clip))
        {
            throw new CliException($"--clip '{clip}' does not exist.");
        }
        string source = clip ?? $"{SyntheticFrameSource.Prefix}:{settings.Width}x{settings.Width * 3 / 4 / 2 * 2}";
        var frames = new List<SourceFrame>();
        using (IStreamFrameSource reader = StreamFrameSources.Open(source, StreamImageFormat.Jpeg, clip is null ? 0 : settings.Width))
        {
            while (frames.Count < 90 && reader.TryRead(out SourceFrame frame)) frames.Add(frame);
        }
        if (frames.Count == 0) throw new CliException($"no frames in '{source}'.");
        return (frames, clip ?? "synthetic moving pattern");
    }

    internal static async Task<Row> RunScenarioAsync(ServerConnection server, List<SourceFrame> frames, int streams, Settings settings, CancellationToken ct)
    {
        string loadBefore = LoadAverage();
        var results = await Task.WhenAll(Enumerable.Range(0, streams).Select(i => RunStreamAsync(server, frames, i, settings, ct)));
        string loadAfter = LoadAverage();
        long[] serverTicks = results.SelectMany(r => r.ServerLatencyTicks).ToArray();
        long[] endToEndTicks = results.SelectMany(r => r.EndToEndTicks).ToArray();
        return new Row(streams, settings.Points, settings.Fps,
            results.Average(r => r.MeasuredUpdates / settings.Seconds),
            results.Sum(r => r.Sent), results.Sum(r => (long)r.Stats.FramesProcessed), results.Sum(r => (long)r.Stats.FramesDropped),
            results.Sum(r => (long)r.Stats.FramesRejected),
            serverTicks.Length > 0 ? LatencyStats.FromTicks(serverTicks) : null,
            endToEndTicks.Length > 0 ? LatencyStats.FromTicks(endToEndTicks) : null,
            loadBefore, loadAfter);
    }

    private sealed record StreamResult(long Sent, SessionStats Stats, long MeasuredUpdates, List<long> ServerLatencyTicks, List<long> EndToEndTicks);

    /// <summary>One camera (paced StreamFrames) and one subscriber on its own session.</summary>
    private static async Task<StreamResult> RunStreamAsync(ServerConnection server, List<SourceFrame> frames, int index, Settings settings, CancellationToken ct)
    {
        SourceFrame first = frames[0];
        SessionInfo session = await server.Client.OpenSessionAsync(new OpenSessionRequest
        {
            CameraId = $"bench-{index}", Model = settings.Model ?? "", FrameWidth = (uint)first.Width, FrameHeight = (uint)first.Height,
            Record = settings.Record,
        }, server.CallOptions(ct));
        string sid = session.SessionId;
        int total = (int)Math.Ceiling((settings.Warmup + settings.Seconds) * settings.Fps);
        int firstMeasured = (int)Math.Ceiling(settings.Warmup * settings.Fps);
        var sendTicks = new long[total];

        // Subscriber: per update of a measured frame, the server's receive -> publish and our send -> receive.
        var serverLatency = new List<long>();
        var endToEnd = new List<long>();
        long measuredUpdates = 0;
        using AsyncServerStreamingCall<TrackUpdate> subscription = server.Client.Subscribe(new SubscribeRequest { SessionId = sid, QueueUpdates = 8 }, server.CallOptions(ct));
        Task reading = Task.Run(async () =>
        {
            while (await subscription.ResponseStream.MoveNext(ct))
            {
                long now = Stopwatch.GetTimestamp();
                TrackUpdate u = subscription.ResponseStream.Current;
                long seq = (long)u.Sequence;
                if (seq < firstMeasured || seq >= total) continue;
                measuredUpdates++;
                serverLatency.Add((u.PublishTimeNs - u.ReceiveTimeNs) * Stopwatch.Frequency / 1_000_000_000);
                endToEnd.Add(now - Volatile.Read(ref sendTicks[seq]));
            }
        }, ct);
        for (int i = 0; i < 400 && (await server.Client.GetSessionAsync(new GetSessionRequest { SessionId = sid }, server.CallOptions(ct))).Stats.Subscribers < 1; i++)
        {
            await Task.Delay(10, ct);
        }

        // Camera: paced on the absolute schedule start + k/fps; the points go in after the first frame.
        long sent = 0;
        using (AsyncClientStreamingCall<Frame, IngestSummary> camera = server.Client.StreamFrames(server.CallOptions(ct)))
        {
            long start = Stopwatch.GetTimestamp();
            for (int k = 0; k < total; k++)
            {
                TimeSpan due = TimeSpan.FromSeconds(k / settings.Fps) - Stopwatch.GetElapsedTime(start);
                if (due > TimeSpan.Zero) await Task.Delay(due, ct);
                Volatile.Write(ref sendTicks[k], Stopwatch.GetTimestamp());
                await camera.RequestStream.WriteAsync(frames[k % frames.Count].ToFrame(sid, WallClock.NowNs(), (ulong)k), ct);
                sent++;
                if (k == 0) await AddGridPointsAsync(server, sid, settings.Points, first, ct);
            }
            await camera.RequestStream.CompleteAsync();
            await camera.ResponseAsync;
        }

        SessionStats stats = (await server.Client.GetSessionAsync(new GetSessionRequest { SessionId = sid }, server.CallOptions(ct))).Stats;
        for (int i = 0; i < 200 && stats.FramesProcessed + stats.FramesDropped + stats.FramesRejected < stats.FramesReceived; i++)
        {
            await Task.Delay(25, ct);
            stats = (await server.Client.GetSessionAsync(new GetSessionRequest { SessionId = sid }, server.CallOptions(ct))).Stats;
        }
        SessionInfo closed = await server.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = sid }, server.CallOptions(ct));
        try
        {
            await reading.WaitAsync(TimeSpan.FromSeconds(30), ct);
        }
        catch (RpcException)
        {
            // the subscription ends with the session
        }
        return new StreamResult(sent, closed.Stats, measuredUpdates, serverLatency, endToEnd);
    }

    /// <summary>Adds <paramref name="count"/> points on a square grid over <paramref name="frame"/> (none when 0).</summary>
    internal static async Task AddGridPointsAsync(ServerConnection server, string sessionId, int count, SourceFrame frame, CancellationToken ct)
    {
        if (count <= 0) return;
        int side = (int)Math.Ceiling(Math.Sqrt(count));
        var add = new AddPointsRequest { SessionId = sessionId };
        add.Points.AddRange(PointList.Grid(side, frame.Width, frame.Height).Take(count));
        await server.Client.AddPointsAsync(add, server.CallOptions(ct));
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    private static void Print(List<Row> rows, Settings settings, string frameSource, SourceFrame frame, TextWriter output)
    {
        string machine = MachineInfo.Describe();
        if (settings.Json)
        {
            output.WriteLine(JsonSerializer.Serialize(new { machine, frameSource, frame.Width, frame.Height, settings.Seconds, settings.Warmup, rows }));
            return;
        }
        static string Ms(LatencyStats? s) => s is null ? "n/a" : string.Create(CultureInfo.InvariantCulture, $"{s.MedianMs:F1} / {s.P99Ms:F1}");
        output.WriteLine($"Server benchmark: {settings.Points} points per stream, cameras paced at {settings.Fps:0.#} fps, {settings.Seconds:0.#} s measured after {settings.Warmup:0.#} s warm-up, recording {(settings.Record ? "on" : "off")}");
        output.WriteLine($"frames: {frame.Width}x{frame.Height} JPEG from {frameSource}; server: {(settings.Server ?? "in this process, loopback")}");
        output.WriteLine($"machine: {machine}");
        output.WriteLine();
        output.WriteLine("| streams | fps per stream (achieved) | frames sent | processed | dropped | rejected | server receive->publish p50 / p99 ms | client send->update p50 / p99 ms | load avg before -> after |");
        output.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (Row r in rows)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Streams} | {r.AchievedFpsPerStream:F1} | {r.Sent} | {r.Processed} | {r.Dropped} | {r.Rejected} | {Ms(r.ServerLatency)} | {Ms(r.EndToEnd)} | {r.LoadBefore} -> {r.LoadAfter} |"));
        }
    }
}
