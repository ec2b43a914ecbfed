using CausalTap.Tracking;
using System.CommandLine;
using System.Globalization;
using CausalTap.Tracking.Evaluation;

namespace CausalTap.Cli;

/// <summary>
/// <c>causaltap eval DATASET_DIR [--mode first|strided] [--model NAME] [--method M] [--json]</c>: TAP-Vid metrics
/// of the tracker on a folder of TAP-Vid <c>.npz</c> files (see <see cref="TapVidExample"/>), one row per video
/// and the mean over videos. Tracking follows <see cref="TapVidRunner"/> (strictly causal in <c>first</c> mode;
/// a time-reversed pass for frames before the query in <c>strided</c> mode).
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var dataset = new Argument<DirectoryInfo>("DATASET_DIR") { Description = "Folder of TAP-Vid .npz files (video, query_points, target_points, occluded)." };
        var mode = ModeOption("Query mode: first (causal, frames after the query are scored) or strided (every frame but the query). Default: the files' query_mode, else first.");
        var json = new Option<bool>("--json") { Description = "Print one JSON object (fractions, reference key names) instead of the table." };
        var resolution = new Option<string>("--resolution")
        {
            Description = "Image size at which the pixel thresholds are measured: WxH or native.",
            DefaultValueFactory = _ => "256x256",
        };
        var limit = new Option<int?>("--limit-videos") { Description = "Evaluate only the first N videos (sorted by name)." };
        var maxFrames = new Option<int?>("--max-frames") { Description = "Use only the first N frames of each video (points queried later are dropped)." };
        limit.Validators.Add(r => { if (r.GetValueOrDefault<int?>() is <= 0) r.AddError("--limit-videos must be positive."); });
        maxFrames.Validators.Add(r => { if (r.GetValueOrDefault<int?>() is <= 0) r.AddError("--max-frames must be positive."); });
        var tracker = new TrackerOptionSet();

        var command = new Command("eval", "TAP-Vid metrics (AJ, <δavg, OA) of the tracker on a folder of .npz videos.")
        {
            dataset, mode, json, resolution, limit, maxFrames,
        };
        tracker.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() => Run(
            parse.GetValue(dataset)!.FullName, ParseMode(parse.GetValue(mode)), parse.GetValue(json),
            ParseResolution(parse.GetValue(resolution)), parse.GetValue(limit), parse.GetValue(maxFrames),
            () => tracker.Load(parse, Console.Error))));
        return command;
    }

    internal static Option<string?> ModeOption(string description)
    {
        var mode = new Option<string?>("--mode") { Description = description };
        mode.AcceptOnlyFromAmong("first", "strided");
        return mode;
    }

    internal static TapVidQueryMode? ParseMode(string? text) => text is null ? null : TapVidQueryModes.Parse(text);

    private static TapVidResolution ParseResolution(string? text)
    {
        try
        {
            return TapVidResolution.Parse(text ?? "256x256");
        }
        catch (ArgumentException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    private static int Run(string datasetDir, TapVidQueryMode? modeOption, bool json, TapVidResolution resolution,
        int? limitVideos, int? maxFrames, Func<LoadedTracker> load)
    {
        string[] files = TapVidExample.ListDataset(datasetDir);
        if (limitVideos is { } limit) files = files.Take(limit).ToArray();

        using LoadedTracker tracker = load();
        var progress = new Progress("eval", null);
        var runner = new TapVidRunner(tracker) { FrameDone = () => progress.Advance() };
        var results = new List<TapVidVideoResult>();
        TapVidQueryMode? mode = modeOption;
        for (int v = 0; v < files.Length; v++)
        {
            TapVidExample example = TapVidRunner.Truncate(TapVidExample.Load(files[v], requireGroundTruth: true), maxFrames);
            mode ??= example.QueryMode ?? TapVidQueryMode.First;
            progress.Detail = $"video {v + 1}/{files.Length} {example.Name}";
            progress.Total = progress.Done + TapVidRunner.FramesNeeded(example, mode.Value);
            long ticks = runner.TrackTicks, frames = runner.FramesTracked;
            TapVidPrediction prediction = runner.Predict(example, mode.Value);
            double ms = (runner.TrackTicks - ticks) * 1000.0 / System.Diagnostics.Stopwatch.Frequency / Math.Max(1, runner.FramesTracked - frames);
            TapVidMetricValues metrics = TapVidMetrics.Compute(example, prediction, mode.Value, resolution);
            results.Add(new TapVidVideoResult(example.Name, example.NumFrames, metrics, ms));
        }
        progress.Complete($"eval: {files.Length} videos, {runner.FramesTracked} tracked frames in {progress.ElapsedSeconds.ToString("F1", CultureInfo.InvariantCulture)} s, " +
                          $"{runner.MillisecondsPerFrame.ToString("F2", CultureInfo.InvariantCulture)} ms/frame in Track()");

        var evaluation = new TapVidEvaluation(results, mode!.Value, resolution,
            $"{ModelCatalog.FolderName(tracker.Directory)} ({TrackingMethods.Name(tracker.Method)})", Path.GetFileName(Path.TrimEndingDirectorySeparator(datasetDir)));
        if (json)
        {
            Console.Out.WriteLine(TapVidReport.ToJson(evaluation, indented: false));
        }
        else
        {
            Console.Out.Write(TapVidReport.FormatTable(evaluation));
            Console.Out.WriteLine($"ms/frame (Track, mean over videos): {evaluation.MeanMillisecondsPerFrame?.ToString("F2", CultureInfo.InvariantCulture) ?? "-"}");
        }
        return 0;
    }
}
