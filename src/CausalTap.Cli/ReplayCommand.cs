using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using CausalTap.Episodes;
using CausalTap.Protocol.V1;
using CausalTap.Tracking;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Cli;

/// <summary>
/// <c>causaltap replay EPISODE.mcap [--model NAME] [--method fused|tapir|gmrw] [--speed realtime|max] [--out new.mcap]
/// [--csv tracks.csv]</c>: re-runs a tracker over a recorded episode (its frames and point commands, see
/// CausalTap.Episodes) and prints frames, points and speed; when the episode holds recorded updates, also the largest
/// position difference and the visibility agreement against them (same point id and frame).
/// <para>Model: --model, else the model named in the episode's metadata when it is installed, else the default model.
/// Method: --method, else the recorded method when the model has it, else the model's best.</para>
/// <para>Outputs: --out records the replay as a new episode; --csv writes rows <c>frame,id,x,y,visible,occlusion_prob,uncertainty</c>
/// with the recorded point ids.</para>
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var episode = new Argument<string>("EPISODE") { Description = "An MCAP episode recorded by CausalTap (a server session with record on, or replay --out)." };
        var speed = new Option<string>("--speed") { Description = "realtime: pace frames by their recorded capture times; max: as fast as the engine runs.", DefaultValueFactory = _ => "max" };
        speed.AcceptOnlyFromAmong("realtime", "max");
        var output = new Option<string?>("--out") { Description = "Record the replay as a new episode (.mcap)." };
        var csv = new Option<string?>("--csv") { Description = "Write the replayed tracks as CSV (frame,id,x,y,visible,occlusion_prob,uncertainty)." };
        var tracker = new TrackerOptionSet();

        var command = new Command("replay", "Re-run a tracker over a recorded episode; compare with the recorded updates; write a new episode or CSV.")
        {
            episode, speed, output, csv,
        };
        tracker.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() => Run(parse.GetValue(episode)!, parse.GetValue(speed) == "realtime",
            parse.GetValue(output), parse.GetValue(csv), parse, tracker)));
        return command;
    }

    private static int Run(string path, bool realtime, string? outPath, string? csvPath, ParseResult parse, TrackerOptionSet options)
    {
        if (!File.Exists(path)) throw new CliException($"episode '{path}' does not exist");
        if (csvPath is not null && Path.GetExtension(csvPath).ToLowerInvariant() != ".csv") throw new CliException($"--csv '{csvPath}': use a .csv file name");
        CheckFolder(outPath);
        CheckFolder(csvPath);
        if (outPath is not null && Path.GetFullPath(outPath) == Path.GetFullPath(path)) throw new CliException("--out must not be the episode being replayed");

        // One pass for what the episode says about itself: metadata and the recorded updates to compare against.
        EpisodeMetadata? metadata;
        var recorded = new Dictionary<long, TrackUpdate>();
        bool truncated;
        try
        {
            using var reader = EpisodeReader.Open(path);
            metadata = reader.Metadata;
            foreach (EpisodeEvent ev in reader.ReadEvents())
            {
                if (ev is EpisodeUpdate u) recorded[u.Update.FrameIndex] = u.Update;
            }
            truncated = reader.IsTruncated;
        }
        catch (InvalidDataException ex)
        {
            throw new CliException($"'{path}' is not a readable episode: {ex.Message}");
        }
        if (truncated) Console.Error.WriteLine($"warning: '{path}' ends without its summary (a recording cut short); replaying every complete chunk");

        ModelDirectory directory = ResolveModel(parse.GetValue(options.Model), metadata);
        TrackingMethod method = ResolveMethod(parse.GetValue(options.Method), metadata, directory);
        var trackerOptions = new TrackerOptions(parse.GetValue(options.Provider) ?? Tracking.Inference.ExecutionProviders.Auto, parse.GetValue(options.Threads));
        using TrackerModel model = TrackerModel.Load(directory, trackerOptions);
        string modelName = ModelCatalog.FolderName(directory), methodName = TrackingMethods.Name(method);
        Console.Error.WriteLine($"model {modelName} ({directory.Path}), method {methodName}, {model.Provider}" +
                                (metadata is null ? "" : $"; recorded with {Show(metadata.Model)}, {Show(metadata.Method)}"));

        using EpisodeRecorder? recorder = outPath is null ? null : EpisodeRecorder.Create(outPath, (metadata ?? new EpisodeMetadata("", "", "", "", "", 0, 0)) with
        {
            Model = modelName,
            Method = methodName,
            ServerVersion = InfoCommand.ToolVersion,
        });
        using StreamWriter? csv = csvPath is null ? null : new StreamWriter(csvPath, false, new UTF8Encoding(false));
        csv?.WriteLine("frame,id,x,y,visible,occlusion_prob,uncertainty");

        var inv = CultureInfo.InvariantCulture;
        var progress = new Progress("replay", EpisodeCatalog.Summarize(path).Frames);
        var ids = new HashSet<uint>();
        var engineMs = new List<double>();
        long frames = 0, compared = 0, visibilityAgrees = 0, missing = 0;
        double maxDiff = 0;
        uint width = 0, height = 0;
        var wall = Stopwatch.StartNew();
        var replayOptions = new ReplayOptions(realtime, recorder);
        foreach (TrackUpdate update in EpisodeReplayer.ReplayAsync(path, model, method, replayOptions).ToBlockingEnumerable())
        {
            frames++;
            width = update.FrameWidth;
            height = update.FrameHeight;
            engineMs.Add(update.ProcessingMs);
            foreach (PointState p in update.Points)
            {
                ids.Add(p.Id);
                csv?.WriteLine(string.Join(',', update.FrameIndex.ToString(inv), p.Id.ToString(inv), p.X.ToString("0.###", inv), p.Y.ToString("0.###", inv),
                    p.Visible ? "1" : "0", p.OcclusionProbability.ToString("0.####", inv), p.Uncertainty.ToString("0.####", inv)));
            }
            if (recorded.TryGetValue(update.FrameIndex, out TrackUpdate? old))
            {
                var replayed = update.Points.ToDictionary(p => p.Id);
                foreach (PointState q in old.Points)
                {
                    if (!replayed.TryGetValue(q.Id, out PointState? p))
                    {
                        missing++;
                        continue;
                    }
                    compared++;
                    maxDiff = Math.Max(maxDiff, Math.Max(Math.Abs((double)p.X - q.X), Math.Abs((double)p.Y - q.Y)));
                    if (p.Visible == q.Visible) visibilityAgrees++;
                }
                missing += update.Points.Count(p => !old.Points.Any(q => q.Id == p.Id));
            }
            progress.Advance();
        }
        wall.Stop();
        if (frames == 0) throw new CliException($"'{path}' has no recorded frames");
        progress.Complete($"replay: {frames} frames in {wall.Elapsed.TotalSeconds.ToString("F1", inv)} s");

        engineMs.Sort();
        double mean = engineMs.Average();
        Console.Out.WriteLine($"replayed {frames} frames ({width}x{height}), {ids.Count} points, model {modelName}, method {methodName}, speed {(realtime ? "realtime" : "max")}");
        Console.Out.WriteLine($"ms/frame (decode + Track): p50 {engineMs[engineMs.Count / 2].ToString("F2", inv)}, mean {mean.ToString("F2", inv)}; " +
                              $"{(frames / wall.Elapsed.TotalSeconds).ToString("F1", inv)} fps overall");
        if (recorded.Count == 0)
        {
            Console.Out.WriteLine("vs recorded: the episode has no recorded updates");
        }
        else
        {
            string agreement = compared == 0 ? "n/a" : (100.0 * visibilityAgrees / compared).ToString("F1", inv) + "%";
            Console.Out.WriteLine($"vs recorded: max position difference {maxDiff.ToString("G4", inv)} px, visibility agreement {agreement} " +
                                  $"({visibilityAgrees}/{compared} point-frames{(missing > 0 ? $", {missing} present on one side only" : "")})");
        }
        if (outPath is not null) Console.Out.WriteLine($"episode: {outPath}");
        if (csvPath is not null) Console.Out.WriteLine($"tracks: {csvPath}");
        return 0;
    }

    /// <summary>--model, else the recorded model when it is installed, else the default model.</summary>
    private static ModelDirectory ResolveModel(string? requested, EpisodeMetadata? metadata)
    {
        if (!string.IsNullOrWhiteSpace(requested)) return ModelResolver.Resolve(requested);
        if (metadata is { Model.Length: > 0 } && ModelCatalog.Names(Paths.Models).Contains(metadata.Model))
        {
            return ModelResolver.Resolve(metadata.Model);
        }
        return ModelResolver.Resolve(null);
    }

    /// <summary>--method, else the recorded method when the model has it, else the model's best.</summary>
    private static TrackingMethod ResolveMethod(string? requested, EpisodeMetadata? metadata, ModelDirectory model)
    {
        if (!string.IsNullOrWhiteSpace(requested)) return ModelResolver.ResolveMethod(requested, model);
        return TrackingMethods.Choose(null, metadata?.Method, model.HasTapir, model.HasGmrw);
    }

    private static string Show(string value) => value.Length == 0 ? "(unknown)" : value;

    private static void CheckFolder(string? file)
    {
        if (file is null) return;
        string? dir = Path.GetDirectoryName(Path.GetFullPath(file));
        if (dir is not null && !Directory.Exists(dir)) throw new CliException($"cannot write '{file}': folder '{dir}' does not exist");
    }
}
