using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CausalTap.Protocol.V1;
using CausalTap.Server;

namespace CausalTap.Cli.Bench;

/// <summary>
/// <c>causaltap bench soak</c>: does the server give memory back? Against a server started in this process it
/// (1) opens, tracks and closes sessions one after another (--cycles, each: open, --cycle-frames frames with
/// --points points added after the first, close), then (2) runs --streams paced cameras with a subscriber each for
/// --minutes, in rounds of --round-seconds (each round a fresh session per camera, as a robot opening one per
/// episode would). After every --sample-every cycles and every round it records the process RSS, the managed bytes
/// still live after a full collection, latency p50/p99 and drops, and at the end the RSS growth after warm-up.
/// </summary>
internal static class SoakBenchmark
{
    public sealed record Settings(int Cycles, int CycleFrames, int Points, int SampleEvery, double Minutes, int Streams, double RoundSeconds,
        double Fps, string? Clip, int Width, bool Json);

    /// <summary>One sample: where in the run, memory, and (stream rounds) latency and drops of that round.</summary>
    public sealed record Sample(string Phase, int Cycles, double Minutes, double RssMb, double ManagedLiveMb, double GcCommittedMb,
        double? LatencyP50Ms, double? LatencyP99Ms, long Processed, long Dropped);

    public static Command Create()
    {
        var cycles = new Option<int>("--cycles") { Description = "Open -> track -> close session cycles.", DefaultValueFactory = _ => 1000 };
        var cycleFrames = new Option<int>("--cycle-frames") { Description = "Frames sent in each cycle.", DefaultValueFactory = _ => 10 };
        var points = new Option<int>("--points") { Description = "Points per session.", DefaultValueFactory = _ => 256 };
        var sampleEvery = new Option<int>("--sample-every") { Description = "Memory sample every N cycles.", DefaultValueFactory = _ => 50 };
        var minutes = new Option<double>("--minutes") { Description = "Minutes of paced streams after the cycles (0 = none).", DefaultValueFactory = _ => 10 };
        var streams = new Option<int>("--streams") { Description = "Concurrent cameras in the stream phase.", DefaultValueFactory = _ => 2 };
        var roundSeconds = new Option<double>("--round-seconds") { Description = "Length of one stream round (a new session per camera each round).", DefaultValueFactory = _ => 30 };
        var fps = new Option<double>("--fps") { Description = "Frames per second each camera sends.", DefaultValueFactory = _ => 30 };
        var clip = new Option<string?>("--clip") { Description = "Video to take frames from (default: ../shared/data/robot_real/umi_cup_fullframe.mp4 when present, else the synthetic pattern)." };
        var width = new Option<int>("--width") { Description = "Frame width sent.", DefaultValueFactory = _ => 640 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        cycles.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--cycles must be >= 0."); });
        cycleFrames.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) r.AddError("--cycle-frames must be >= 1."); });
        points.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 0 or > 4096) r.AddError("--points must be in 0..4096."); });
        sampleEvery.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) r.AddError("--sample-every must be >= 1."); });
        minutes.Validators.Add(r => { if (r.GetValueOrDefault<double>() is < 0 or > 10_000) r.AddError("--minutes must be in 0..10000."); });
        streams.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 16) r.AddError("--streams must be in 1..16."); });
        roundSeconds.Validators.Add(r => { if (r.GetValueOrDefault<double>() is < 2 or > 3600) r.AddError("--round-seconds must be in 2..3600."); });
        fps.Validators.Add(r => { if (r.GetValueOrDefault<double>() is <= 0 or > 240) r.AddError("--fps must be in (0, 240]."); });
        width.Validators.Add(r => { int w = r.GetValueOrDefault<int>(); if (w < 16 || w > 4096 || w % 2 == 1) r.AddError("--width must be an even number in 16..4096."); });
        var command = new Command("soak", "Memory soak: open -> track -> close session cycles, then paced streams for N minutes; RSS, live managed heap, latency p50/p99 and drops over time.")
        {
            cycles, cycleFrames, points, sampleEvery, minutes, streams, roundSeconds, fps, clip, width, json,
        };
        command.SetAction((parse, ct) => ClientErrors.RunAsync(ct, ct =>
        {
            var settings = new Settings(parse.GetValue(cycles), parse.GetValue(cycleFrames), parse.GetValue(points), parse.GetValue(sampleEvery),
                parse.GetValue(minutes), parse.GetValue(streams), parse.GetValue(roundSeconds), parse.GetValue(fps), parse.GetValue(clip),
                parse.GetValue(width), parse.GetValue(json));
            return RunAsync(settings, Console.Out, Console.Error, ct);
        }));
        return command;
    }

    public static async Task<int> RunAsync(Settings settings, TextWriter output, TextWriter log, CancellationToken ct)
    {
        var streamSettings = new ServerBenchmark.Settings([settings.Streams], settings.Points, settings.Fps, settings.RoundSeconds - 1, 1,
            settings.Clip, settings.Width, null, null, null, Json: false);
        (List<SourceFrame> frames, string frameSource) = ServerBenchmark.LoadFrames(streamSettings);
        string episodes = Path.Combine(Path.GetTempPath(), "causaltap-soak-" + Guid.NewGuid().ToString("N")[..8]);
        var options = new TrackerServerOptions
        {
            Host = "127.0.0.1", Port = 0, ModelsDirectory = Paths.Models, EpisodesDirectory = episodes,
            MaxPointsPerSession = Math.Max(settings.Points, 256), MaxSessions = Math.Max(16, settings.Streams),
        };
        var samples = new List<Sample>();
        var clock = Stopwatch.StartNew();
        await using (TrackerServer server = await TrackerServer.StartAsync(options, cancellationToken: ct))
        {
            log.WriteLine($"soak: server in this process at {server.Address}, default model {server.DefaultModel}; frames {frames[0].Width}x{frames[0].Height} from {frameSource}");
            using ServerConnection connection = ServerConnection.Open(server.Address, null);
            samples.Add(Measure("start", 0, clock, null, 0, 0));
            for (int c = 1; c <= settings.Cycles; c++)
            {
                await RunCycleAsync(connection, frames, settings, c, ct);
                if (c % settings.SampleEvery == 0 || c == settings.Cycles)
                {
                    samples.Add(Measure("cycles", c, clock, null, 0, 0));
                    log.WriteLine(Line(samples[^1]));
                }
            }
            var until = clock.Elapsed + TimeSpan.FromMinutes(settings.Minutes);
            while (settings.Minutes > 0 && clock.Elapsed < until)
            {
                ServerBenchmark.Row row = await ServerBenchmark.RunScenarioAsync(connection, frames, settings.Streams, streamSettings, ct);
                samples.Add(Measure("streams", settings.Cycles, clock, row.ServerLatency, row.Processed, row.Dropped));
                log.WriteLine(Line(samples[^1]));
            }
        }
        if (Directory.Exists(episodes)) Directory.Delete(episodes, recursive: true);
        Print(samples, settings, frameSource, output);
        return 0;
    }

    /// <summary>One session: open, the frames (points added after the first), close.</summary>
    private static async Task RunCycleAsync(ServerConnection server, List<SourceFrame> frames, Settings settings, int cycle, CancellationToken ct)
    {
        SourceFrame first = frames[0];
        SessionInfo session = await server.Client.OpenSessionAsync(new OpenSessionRequest
        {
            CameraId = $"soak-{cycle}", FrameWidth = (uint)first.Width, FrameHeight = (uint)first.Height,
            // Block instead of drop: every frame of a cycle is tracked, so each cycle does the same work.
            IngestPolicy = IngestPolicy.Block,
        }, server.CallOptions(ct));
        string sid = session.SessionId;
        using (var camera = server.Client.StreamFrames(server.CallOptions(ct)))
        {
            for (int k = 0; k < settings.CycleFrames; k++)
            {
                await camera.RequestStream.WriteAsync(frames[k % frames.Count].ToFrame(sid, WallClock.NowNs(), (ulong)k), ct);
                if (k == 0) await ServerBenchmark.AddGridPointsAsync(server, sid, settings.Points, first, ct);
            }
            await camera.RequestStream.CompleteAsync();
            await camera.ResponseAsync;
        }
        await server.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = sid }, server.CallOptions(ct));
    }

    /// <summary>Memory now: RSS, and the managed bytes that survive a full blocking collection (what is really held).</summary>
    private static Sample Measure(string phase, int cycles, Stopwatch clock, LatencyStats? latency, long processed, long dropped)
    {
        long live = GC.GetTotalMemory(forceFullCollection: true);
        GCMemoryInfo gc = GC.GetGCMemoryInfo();
        return new Sample(phase, cycles, clock.Elapsed.TotalMinutes, ProcessMemory.RssBytes() / 1048576.0, live / 1048576.0,
            gc.TotalCommittedBytes / 1048576.0, latency?.MedianMs, latency?.P99Ms, processed, dropped);
    }

    private static string Line(Sample s)
    {
        string memory = string.Create(CultureInfo.InvariantCulture,
            $"{s.Phase,-8} {s.Cycles,6} cycles {s.Minutes,6:F1} min  RSS {s.RssMb,7:F1} MB  managed live {s.ManagedLiveMb,6:F1} MB  GC committed {s.GcCommittedMb,6:F1} MB");
        return s.LatencyP50Ms is not { } p50 ? memory
            : memory + string.Create(CultureInfo.InvariantCulture, $"  p50/p99 {p50:F1}/{s.LatencyP99Ms:F1} ms  processed {s.Processed} dropped {s.Dropped}");
    }

    /// <summary>
    /// RSS growth within each phase, from its first sample (after warm-up: the first cycles, the first round) to its
    /// last, in percent. Phases are compared with themselves: two cameras at once hold more than one session at a time.
    /// </summary>
    public static IReadOnlyList<(string Phase, double FromMb, double ToMb, double Percent)> GrowthByPhase(IReadOnlyList<Sample> samples) =>
        samples.Where(s => s.Phase != "start").GroupBy(s => s.Phase)
            .Where(g => g.Count() >= 2)
            .Select(g => (g.Key, g.First().RssMb, g.Last().RssMb, 100.0 * (g.Last().RssMb - g.First().RssMb) / g.First().RssMb))
            .ToList();

    private static void Print(List<Sample> samples, Settings settings, string frameSource, TextWriter output)
    {
        string machine = MachineInfo.Describe();
        var growth = GrowthByPhase(samples);
        if (settings.Json)
        {
            var rssGrowth = growth.Select(g => new { phase = g.Phase, from_mb = g.FromMb, to_mb = g.ToMb, percent = g.Percent });
            output.WriteLine(JsonSerializer.Serialize(new { machine, frameSource, settings, rss_growth = rssGrowth, samples }));
            return;
        }
        output.WriteLine($"Soak benchmark: {settings.Cycles} session cycles ({settings.CycleFrames} frames, {settings.Points} points each), then " +
                         $"{settings.Minutes:0.#} min of {settings.Streams} camera(s) at {settings.Fps:0.#} fps in {settings.RoundSeconds:0.#}-s rounds; frames from {frameSource}");
        output.WriteLine($"machine: {machine}");
        output.WriteLine("managed live = bytes still reachable after a full blocking GC; RSS includes this process's client side too");
        output.WriteLine();
        output.WriteLine("| phase | cycles | minutes | RSS MB | managed live MB | GC committed MB | round p50 / p99 ms | processed | dropped |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (Sample s in samples)
        {
            string latency = s.LatencyP50Ms is { } p50 ? string.Create(CultureInfo.InvariantCulture, $"{p50:F1} / {s.LatencyP99Ms:F1}") : "";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {s.Phase} | {s.Cycles} | {s.Minutes:F1} | {s.RssMb:F1} | {s.ManagedLiveMb:F1} | {s.GcCommittedMb:F1} | {latency} | {(s.LatencyP50Ms is null ? "" : s.Processed)} | {(s.LatencyP50Ms is null ? "" : s.Dropped)} |"));
        }
        output.WriteLine();
        if (growth.Count == 0) output.WriteLine("RSS growth: not enough samples");
        foreach ((string phase, double from, double to, double percent) in growth)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"RSS growth, {phase} (first sample after warm-up -> last): {from:F1} -> {to:F1} MB, {percent:+0.0;-0.0} % (target: within 5 %)"));
        }
    }
}

/// <summary>This process's resident set size, from /proc (Linux) or the runtime's working set elsewhere.</summary>
internal static class ProcessMemory
{
    public static long RssBytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
                string kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }
        return Environment.WorkingSet;
    }
}
