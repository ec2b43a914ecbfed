using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using CausalTap.Imaging;
using CausalTap.Imaging.Video;
using CausalTap.Tracking;

namespace CausalTap.Cli.Bench;

/// <summary>
/// <c>causaltap bench</c>: per-stage latency of the tracker (JPEG decode, preprocess, encoder, query, step, GMRW,
/// fuse, and the whole Track call), p50/p99/mean, frames per second and memory for each point count.
/// <para>
/// Frames: a loop of <see cref="LoopFrames"/> frames, either the first frames of <c>--video</c> or a procedural
/// moving texture (so it runs anywhere). Each loop frame is encoded to JPEG once at start (OpenCV); every measured
/// frame is then decoded from JPEG (OpenCV imdecode, as the server decodes camera frames) and tracked. When OpenCV's
/// native library cannot load the decode stage is skipped (and the output says so) and raw frames are tracked.
/// </para>
/// <para>
/// Per point count: a new stream, the points on a grid, added on the first warm-up frame (that frame's query time
/// is reported as <c>query_add_all</c>); warm-up frames, then measured frames. <c>--churn K</c> replaces K points
/// per measured frame so that the query stage is measured in steady state too. Allocation = managed bytes
/// allocated on the tracking thread over the measured frames (GC.GetAllocatedBytesForCurrentThread) / frames: the
/// engine's "no allocation on the hot path" claim is this number being 0. Memory per point = the causal state
/// from the card (floats_per_point x 4 bytes) and the process working-set growth over the run / points
/// (approximate: it includes ORT's arena growth for the larger batch).
/// </para>
/// </summary>
internal static class ModelBenchmark
{
    /// <summary>Frames in the input loop.</summary>
    public const int LoopFrames = 8;

    /// <summary>Stage names, in pipeline order.</summary>
    public static readonly IReadOnlyList<string> StageNames = ["decode", "preprocess", "encoder", "query", "step", "local", "fuse", "track_total", "frame_total"];

    public sealed record Settings(IReadOnlyList<int> PointCounts, int Frames, int Warmup, int Width, int Height, string? Video, int Churn, bool Json);

    public sealed record StageStats(
        [property: JsonPropertyName("p50_ms")] double P50Ms,
        [property: JsonPropertyName("p99_ms")] double P99Ms,
        [property: JsonPropertyName("mean_ms")] double MeanMs);

    public sealed record PointResult(
        [property: JsonPropertyName("points")] int Points,
        [property: JsonPropertyName("fps")] double FramesPerSecond,
        [property: JsonPropertyName("stages")] IReadOnlyDictionary<string, StageStats?> Stages,
        [property: JsonPropertyName("query_add_all_ms")] double QueryAddAllMs,
        [property: JsonPropertyName("allocated_bytes_per_frame")] double AllocatedBytesPerFrame,
        [property: JsonPropertyName("state_bytes_per_point")] long? StateBytesPerPoint,
        [property: JsonPropertyName("working_set_bytes_per_point")] double WorkingSetBytesPerPoint);

    public static int Run(Settings s, LoadedTracker tracker, TextWriter output)
    {
        var inv = CultureInfo.InvariantCulture;
        (RgbImage[] loop, string source) = LoadFrames(s);
        int frameWidth = loop[0].Width, frameHeight = loop[0].Height;
        (byte[][]? jpegs, string decodeNote) = EncodeJpegs(loop);
        using FrameDecoder? decoder = jpegs is null ? null : new FrameDecoder();
        long? stateBytes = tracker.Model.HasTapir ? 4L * tracker.Model.StateFloatsPerPoint : 0;

        var results = new List<PointResult>();
        var progress = new Progress("bench", (long)s.PointCounts.Count * (s.Frames + s.Warmup));
        try
        {
            foreach (int points in s.PointCounts)
            {
                progress.Detail = $"{points} points";
                results.Add(RunOne(s, tracker, loop, jpegs, decoder, points, stateBytes, progress, frameWidth, frameHeight));
            }
        }
        finally
        {
            foreach (RgbImage image in loop) image.Dispose();
        }
        progress.Complete($"bench: {s.PointCounts.Count} point counts x {s.Frames} frames (+{s.Warmup} warm-up) in {progress.ElapsedSeconds.ToString("F1", inv)} s");

        string machine = MachineInfo.Describe();
        string method = TrackingMethods.Name(tracker.Method);
        if (s.Json)
        {
            var doc = new Dictionary<string, object?>
            {
                ["machine"] = machine,
                ["model"] = ModelCatalog.FolderName(tracker.Directory),
                ["model_path"] = tracker.Directory.Path,
                ["method"] = method,
                ["provider"] = tracker.Options.Provider,
                ["model_input"] = new[] { tracker.Directory.InputWidth, tracker.Directory.InputHeight },
                ["source"] = source,
                ["frame_size"] = new[] { frameWidth, frameHeight },
                ["frames"] = s.Frames,
                ["warmup"] = s.Warmup,
                ["churn"] = s.Churn,
                ["decode"] = jpegs is null ? null : "jpeg (OpenCV imdecode)",
                ["decode_note"] = decodeNote,
                ["stage_names"] = StageNames,
                ["results"] = results,
            };
            output.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals }));
            return 0;
        }

        output.WriteLine($"tracker benchmark: model {ModelCatalog.FolderName(tracker.Directory)} ({tracker.Directory.Path}), method {method}, provider {tracker.Options.Provider}, model input {tracker.Directory.InputWidth}x{tracker.Directory.InputHeight}");
        output.WriteLine($"frames: {source}, {frameWidth}x{frameHeight}; {s.Frames} measured after {s.Warmup} warm-up per point count{(s.Churn > 0 ? $", {s.Churn} point(s) replaced per frame" : "")}");
        output.WriteLine($"decode: {decodeNote}");
        output.WriteLine($"machine: {machine}");
        output.WriteLine("per-stage ms, p50/p99 (track_total = one Track call; frame_total = decode + Track):");
        var header = new List<string> { "points", "fps" };
        header.AddRange(StageNames);
        header.AddRange(["alloc B/frame", "state B/pt", "WS B/pt"]);
        var rows = new List<string[]>();
        foreach (PointResult r in results)
        {
            var cells = new List<string> { r.Points.ToString(inv), r.FramesPerSecond.ToString("F1", inv) };
            foreach (string stage in StageNames)
            {
                StageStats? st = r.Stages[stage];
                cells.Add(st is null ? "skipped" : $"{st.P50Ms.ToString("F2", inv)}/{st.P99Ms.ToString("F2", inv)}");
            }
            cells.Add(r.AllocatedBytesPerFrame.ToString("F0", inv));
            cells.Add(r.StateBytesPerPoint?.ToString(inv) ?? "-");
            cells.Add(r.WorkingSetBytesPerPoint.ToString("F0", inv));
            rows.Add(cells.ToArray());
        }
        var width = header.Select((h, c) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[c].Length))).ToArray();
        output.WriteLine(string.Join("  ", header.Select((h, c) => h.PadLeft(width[c]))));
        foreach (string[] r in rows) output.WriteLine(string.Join("  ", r.Select((v, c) => v.PadLeft(width[c]))));
        output.WriteLine("query: steady-state query time (0 without --churn); time to add all points at once: " +
                         string.Join(", ", results.Select(r => $"{r.Points} pts {r.QueryAddAllMs.ToString("F2", inv)} ms")));
        return 0;
    }

    private static PointResult RunOne(Settings s, LoadedTracker tracker, RgbImage[] loop, byte[][]? jpegs, FrameDecoder? decoder,
        int points, long? stateBytes, Progress progress, int width, int height)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        long workingSetBefore = process.WorkingSet64;

        using StreamTracker stream = tracker.CreateStream();
        using var decoded = new RgbImage();
        var positions = GridPositions(points, width, height);
        var ids = new int[points];
        int n = s.Frames;
        var samples = new double[StageNames.Count][];
        for (int k = 0; k < samples.Length; k++) samples[k] = new double[n];
        double queryAddAll = 0;
        int churnCursor = 0;
        long allocatedBefore = 0;

        for (int f = -s.Warmup - 1; f < n; f++)
        {
            int index = (f + s.Warmup + 1) % loop.Length;
            if (f == -s.Warmup - 1)
            {
                for (int i = 0; i < points; i++) ids[i] = stream.AddPoint(positions[i].X, positions[i].Y);
            }
            if (f == 0)
            {
                allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            }
            if (f >= 0 && s.Churn > 0 && points > 0)
            {
                for (int c = 0; c < Math.Min(s.Churn, points); c++)
                {
                    int slot = churnCursor++ % points;
                    stream.RemovePoint(ids[slot]);
                    ids[slot] = stream.AddPoint(positions[slot].X, positions[slot].Y);
                }
            }

            double decodeMs = 0;
            RgbImage frame = loop[index];
            if (jpegs is not null && decoder is not null)
            {
                long t0 = Stopwatch.GetTimestamp();
                decoder.Decode(jpegs[index], Imaging.PixelFormat.Jpeg, decoded);
                decodeMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                frame = decoded;
            }
            stream.Track(frame);
            StageTimings t = stream.LastTimings;
            if (f == -s.Warmup - 1) queryAddAll = t.QueryMs;
            if (f >= 0)
            {
                samples[0][f] = decodeMs;
                samples[1][f] = t.PreprocessMs;
                samples[2][f] = t.EncoderMs;
                samples[3][f] = t.QueryMs;
                samples[4][f] = t.StepMs;
                samples[5][f] = t.LocalMs;
                samples[6][f] = t.FuseMs;
                samples[7][f] = t.TotalMs;
                samples[8][f] = t.TotalMs + decodeMs;
            }
            progress.Advance();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        process.Refresh();
        long workingSetAfter = process.WorkingSet64;

        var stages = new Dictionary<string, StageStats?>();
        for (int k = 0; k < StageNames.Count; k++)
        {
            stages[StageNames[k]] = k == 0 && jpegs is null ? null : Summarize(samples[k]);
        }
        double meanFrame = stages["frame_total"]!.MeanMs;
        return new PointResult(points, meanFrame > 0 ? 1000 / meanFrame : double.PositiveInfinity, stages, queryAddAll,
            n == 0 ? 0 : allocated / (double)n, stateBytes,
            points == 0 ? 0 : Math.Max(0, workingSetAfter - workingSetBefore) / (double)points);
    }

    /// <summary>p50/p99 (nearest rank, as <see cref="LatencyStats"/>) and mean of millisecond samples.</summary>
    internal static StageStats Summarize(double[] ms)
    {
        if (ms.Length == 0) return new StageStats(0, 0, 0);
        double[] sorted = (double[])ms.Clone();
        Array.Sort(sorted);
        double Pick(double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new StageStats(Pick(0.50), Pick(0.99), sorted.Average());
    }

    /// <summary>Points spread over the image on a near-square grid (cell centres).</summary>
    internal static (float X, float Y)[] GridPositions(int count, int width, int height)
    {
        var result = new (float, float)[count];
        if (count == 0) return result;
        int cols = (int)Math.Ceiling(Math.Sqrt(count * (double)width / height));
        int rows = (int)Math.Ceiling(count / (double)cols);
        for (int i = 0; i < count; i++)
        {
            int r = i / cols, c = i % cols;
            result[i] = ((c + 0.5f) * width / cols, (r + 0.5f) * height / rows);
        }
        return result;
    }

    /// <summary>The input loop: the first frames of --video (repeated if short, size from the video), else procedural.</summary>
    private static (RgbImage[] Frames, string Source) LoadFrames(Settings s)
    {
        if (s.Video is not null)
        {
            using IFrameSource video = FrameSource.Open(s.Video);
            var frames = new List<RgbImage>();
            while (frames.Count < LoopFrames)
            {
                var image = new RgbImage();
                if (!video.TryReadFrame(image))
                {
                    image.Dispose();
                    break;
                }
                frames.Add(image);
            }
            if (frames.Count == 0) throw new CliException($"--video '{s.Video}' has no frames");
            return (frames.ToArray(), $"first {frames.Count} frames of {s.Video} (looped)");
        }
        var loop = new RgbImage[LoopFrames];
        for (int t = 0; t < LoopFrames; t++) loop[t] = Procedural(s.Width, s.Height, t);
        return (loop, $"procedural moving texture ({LoopFrames}-frame loop)");
    }

    /// <summary>A textured frame that translates 3 px right and 2 px down per frame (<see cref="SyntheticFrameSource"/>).</summary>
    internal static RgbImage Procedural(int width, int height, int t)
    {
        var image = new RgbImage();
        SyntheticFrameSource.Render(image, width, height, t);
        return image;
    }

    /// <summary>Encodes each loop frame to JPEG once (OpenCV, quality 90), so the measured loop decodes real camera-like JPEGs.</summary>
    private static (byte[][]? Jpegs, string Note) EncodeJpegs(RgbImage[] loop)
    {
        try
        {
            byte[][] jpegs = loop.Select(frame => ImageEncoder.EncodeJpeg(frame)).ToArray();
            double kb = jpegs.Average(j => j.Length) / 1024.0;
            return (jpegs, $"JPEG (OpenCV {OpenCvRuntime.Version} imdecode), {loop[0].Width}x{loop[0].Height}, ~{kb.ToString("F0", CultureInfo.InvariantCulture)} KiB per frame, encoded once at quality 90");
        }
        catch (ImagingDependencyException ex)
        {
            return (null, $"skipped: {ex.Message}; raw frames are tracked");
        }
    }

    /// <summary>TAPIR causal state per point from the card (tapir.state.bytes_per_point, or floats_per_point x 4).</summary>
    internal static long? StateBytesPerPoint(ModelDirectory model)
    {
        JsonElement root = model.Card.Root;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("tapir", out JsonElement tapir) && tapir.ValueKind == JsonValueKind.Object
            && tapir.TryGetProperty("state", out JsonElement state) && state.ValueKind == JsonValueKind.Object)
        {
            if (state.TryGetProperty("floats_per_point", out JsonElement floats) && floats.TryGetInt64(out long f)) return 4 * f;
            if (state.TryGetProperty("bytes_per_point", out JsonElement bytes) && bytes.TryGetInt64(out long b)) return b;
        }
        return model.HasTapir ? null : 0;
    }
}
