using System.CommandLine;

namespace CausalTap.Cli.Bench;

/// <summary><c>causaltap bench …</c>: benchmarks that print numbers with the machine they ran on.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Tracker benchmark: per-stage latency p50/p99, fps and memory per point count (numbers are printed with the machine they ran on). Subcommands: server (end to end through gRPC), soak (memory over session cycles and long streams).");
        AddModelBenchmark(bench);

        bench.Add(ServerBenchmark.Create());
        bench.Add(SoakBenchmark.Create());
        return bench;
    }

    /// <summary>The options and action of <c>causaltap bench</c> itself: <see cref="ModelBenchmark"/>.</summary>
    private static void AddModelBenchmark(Command bench)
    {
        var points = new Option<string>("--points")
        {
            Description = "Comma-separated point counts to measure.",
            DefaultValueFactory = _ => "16,64,256,1024",
        };
        var frames = new Option<int>("--frames") { Description = "Measured frames per point count.", DefaultValueFactory = _ => 100 };
        var warmup = new Option<int>("--warmup") { Description = "Unmeasured frames first (the points are added on the first).", DefaultValueFactory = _ => 10 };
        var width = new Option<int>("--width") { Description = "Width of the procedural frames (camera size; the tracker resizes).", DefaultValueFactory = _ => 640 };
        var height = new Option<int>("--height") { Description = "Height of the procedural frames.", DefaultValueFactory = _ => 480 };
        var video = new Option<string?>("--video") { Description = "Use the first frames of this video (or frame folder) instead of procedural frames." };
        var churn = new Option<int>("--churn") { Description = "Points replaced per measured frame (measures the query stage in steady state).", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        frames.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) r.AddError("--frames must be at least 1."); });
        warmup.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--warmup must be >= 0."); });
        width.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 16 or > 8192) r.AddError("--width must be in 16..8192."); });
        height.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 16 or > 8192) r.AddError("--height must be in 16..8192."); });
        churn.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--churn must be >= 0."); });
        points.Validators.Add(r =>
        {
            if (!TryParseCounts(r.GetValueOrDefault<string>(), out _)) r.AddError("--points must be comma-separated point counts >= 1, e.g. 16,64,256,1024.");
        });
        var tracker = new TrackerOptionSet();
        foreach (Option o in new Option[] { points, frames, warmup, width, height, video, churn, json }) bench.Add(o);
        tracker.AddTo(bench);
        bench.SetAction(parse => CliErrors.Run(() =>
        {
            TryParseCounts(parse.GetValue(points), out int[] counts);
            var settings = new ModelBenchmark.Settings(counts, parse.GetValue(frames), parse.GetValue(warmup), parse.GetValue(width),
                parse.GetValue(height), parse.GetValue(video), parse.GetValue(churn), parse.GetValue(json));
            using LoadedTracker loaded = tracker.Load(parse, Console.Error);
            return ModelBenchmark.Run(settings, loaded, Console.Out);
        }));
    }

    internal static bool TryParseCounts(string? text, out int[] counts)
    {
        counts = [];
        if (string.IsNullOrWhiteSpace(text)) return false;
        var list = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < 1 || n > 100_000) return false;
            list.Add(n);
        }
        counts = list.ToArray();
        return counts.Length > 0;
    }
}
