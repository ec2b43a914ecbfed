using System.CommandLine;
using System.Globalization;
using CausalTap.Tracking.Evaluation;

namespace CausalTap.Cli;

/// <summary>
/// <c>causaltap predict INPUT.npz --out PRED.npz [--mode first|strided]</c>: tracks the query points of one
/// TAP-Vid-format video (ground truth not needed) exactly as <c>causaltap eval</c> does and writes
/// <c>tracks</c> float32 [N,T,2] (x, y) and <c>occluded</c> bool [N,T], so that external scorers can be used.
/// </summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var input = new Argument<FileInfo>("INPUT") { Description = "TAP-Vid .npz: video uint8 [T,H,W,3], query_points float32 [N,3] (t,y,x), optional query_mode." };
        var output = new Option<FileInfo>("--out") { Description = "Prediction .npz to write (tracks [N,T,2] (x,y), occluded [N,T], occlusion_probability and uncertainty [N,T]).", Required = true };
        var mode = EvalCommand.ModeOption("Query mode: first (causal) or strided (frames before the query tracked backwards). Default: the file's query_mode, else first.");
        var maxFrames = new Option<int?>("--max-frames") { Description = "Use only the first N frames (points queried later are dropped)." };
        maxFrames.Validators.Add(r => { if (r.GetValueOrDefault<int?>() is <= 0) r.AddError("--max-frames must be positive."); });
        var tracker = new TrackerOptionSet();
        var command = new Command("predict", "Track the query points of one TAP-Vid .npz and write the prediction (.npz) for external scorers.")
        {
            input, output, mode, maxFrames,
        };
        tracker.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string inputPath = parse.GetValue(input)!.FullName, outputPath = parse.GetValue(output)!.FullName;
            TapVidExample example = TapVidRunner.Truncate(TapVidExample.Load(inputPath), parse.GetValue(maxFrames));
            TapVidQueryMode m = EvalCommand.ParseMode(parse.GetValue(mode)) ?? example.QueryMode ?? TapVidQueryMode.First;
            string? dir = Path.GetDirectoryName(outputPath);
            if (dir is not null && !Directory.Exists(dir)) throw new CliException($"cannot write '{outputPath}': folder '{dir}' does not exist");

            using LoadedTracker loaded = tracker.Load(parse, Console.Error);
            var progress = new Progress("predict", null) { Detail = example.Name };
            progress.Total = TapVidRunner.FramesNeeded(example, m);
            var runner = new TapVidRunner(loaded) { FrameDone = () => progress.Advance() };
            TapVidPrediction prediction = runner.Predict(example, m);
            prediction.Save(outputPath);
            progress.Complete($"predict: {example.Name}, {example.NumPoints} points, {example.NumFrames} frames, mode {m.ToName()}, " +
                              $"{runner.MillisecondsPerFrame.ToString("F2", CultureInfo.InvariantCulture)} ms/frame in Track()");
            Console.Out.WriteLine($"wrote {outputPath}: tracks [{example.NumPoints},{example.NumFrames},2], occluded, occlusion_probability, uncertainty [{example.NumPoints},{example.NumFrames}]");
            return 0;
        }));
        return command;
    }
}
