using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using CausalTap.Cli.Bench;
using CausalTap.Imaging;
using CausalTap.Imaging.Video;
using CausalTap.Tracking;
using CausalTap.Tracking.Evaluation;

namespace CausalTap.Cli;

/// <summary>
/// <c>causaltap track VIDEO|FRAME_DIR (--points "x,y;x,y" | --grid N) [--query-frame K] [--out tracks.csv|.npz]
/// [--overlay out.mp4]</c>: runs the causal tracker over a video file, camera or stream (OpenCV VideoCapture) or a
/// folder of images. Points are in source-image pixels (raster convention) and are all added at
/// frame K (default 0); frames before K are fed to the tracker without points.
/// <para>Outputs: CSV rows <c>frame,id,x,y,visible,occlusion_prob,uncertainty</c> (frames &gt;= K; id = the point's
/// index in --points order, or row-major in the grid); NPZ <c>tracks</c> float32 [N,T,2] (x,y), <c>occluded</c>
/// bool [N,T], <c>occlusion_prob</c> and <c>uncertainty</c> float32 [N,T], <c>query_points</c> float32 [N,3]
/// (t,y,x) — before frame K a point holds its query position, occluded, occlusion_prob 1 and uncertainty NaN;
/// an overlay MP4 at the source frame rate.</para>
/// </summary>
internal static class TrackCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("INPUT") { Description = "A video file (anything OpenCV's FFmpeg reads), a folder of JPEG/PNG frames (sorted by name), a V4L2 camera (/dev/videoN) or an rtsp/http URL." };
        var points = new Option<string?>("--points") { Description = "Query points in source pixels: \"x,y;x,y;...\"." };
        var grid = new Option<int?>("--grid") { Description = "Track an N x N grid of points over the image (cell centres)." };
        var queryFrame = new Option<int>("--query-frame") { Description = "Frame at which the points are added (earlier frames are tracked without them).", DefaultValueFactory = _ => 0 };
        var output = new Option<string?>("--out") { Description = "Write the tracks: .csv (frame,id,x,y,visible,occlusion_prob,uncertainty) or .npz (tracks [N,T,2], occluded [N,T], ...)." };
        var overlay = new Option<string?>("--overlay") { Description = "Write an overlay video (.mp4) with the tracked points drawn on the frames." };
        var maxFrames = new Option<int?>("--max-frames") { Description = "Stop after this many frames." };
        var fps = new Option<double>("--fps") { Description = "Frame rate of a frame folder (for the overlay video).", DefaultValueFactory = _ => 30 };
        grid.Validators.Add(r => { if (r.GetValueOrDefault<int?>() is < 1 or > 256) r.AddError("--grid must be between 1 and 256."); });
        queryFrame.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--query-frame must be >= 0."); });
        maxFrames.Validators.Add(r => { if (r.GetValueOrDefault<int?>() is <= 0) r.AddError("--max-frames must be positive."); });
        fps.Validators.Add(r => { if (!(r.GetValueOrDefault<double>() > 0)) r.AddError("--fps must be positive."); });
        var tracker = new TrackerOptionSet();

        var command = new Command("track", "Track points through a video or a folder of frames; write CSV/NPZ tracks and an overlay video.")
        {
            input, points, grid, queryFrame, output, overlay, maxFrames, fps,
        };
        tracker.AddTo(command);
        command.Validators.Add(r =>
        {
            bool hasPoints = r.GetResult(points) is not null, hasGrid = r.GetResult(grid) is not null;
            if (hasPoints == hasGrid) r.AddError("Give either --points \"x,y;x,y\" or --grid N (exactly one of them).");
        });
        command.SetAction(parse => CliErrors.Run(() => Run(new Settings(
            parse.GetValue(input)!, parse.GetValue(points), parse.GetValue(grid), parse.GetValue(queryFrame), parse.GetValue(output),
            parse.GetValue(overlay), parse.GetValue(maxFrames), parse.GetValue(fps)), () => tracker.Load(parse, Console.Error))));
        return command;
    }

    internal sealed record Settings(string Input, string? Points, int? Grid, int QueryFrame, string? Output, string? Overlay, int? MaxFrames, double FramesPerSecond);

    /// <summary>Parses "x,y;x,y" (spaces allowed, trailing ';' ignored) into points.</summary>
    internal static List<(float X, float Y)> ParsePoints(string text)
    {
        var list = new List<(float, float)>();
        foreach (string part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] xy = part.Split(',', StringSplitOptions.TrimEntries);
            if (xy.Length != 2
                || !float.TryParse(xy[0], NumberStyles.Float, CultureInfo.InvariantCulture, out float x)
                || !float.TryParse(xy[1], NumberStyles.Float, CultureInfo.InvariantCulture, out float y)
                || !float.IsFinite(x) || !float.IsFinite(y))
            {
                throw new CliException($"bad point '{part}' in --points: expected \"x,y;x,y\" with numbers, e.g. \"120,80;200.5,64\"");
            }
            list.Add((x, y));
        }
        if (list.Count == 0) throw new CliException("--points has no points: expected \"x,y;x,y\"");
        return list;
    }

    /// <summary>An n x n grid of cell centres over a width x height image, row-major.</summary>
    internal static List<(float X, float Y)> GridPoints(int n, int width, int height)
    {
        var list = new List<(float, float)>(n * n);
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++)
                list.Add(((i + 0.5f) * width / n, (j + 0.5f) * height / n));
        return list;
    }

    private static int Run(Settings s, Func<LoadedTracker> load)
    {
        if (!File.Exists(s.Input) && !Directory.Exists(s.Input)) throw new CliException($"input '{s.Input}' does not exist (expected a video file or a folder of frames)");
        string? format = s.Output is null ? null : Path.GetExtension(s.Output).ToLowerInvariant();
        if (format is not (null or ".csv" or ".npz")) throw new CliException($"--out '{s.Output}': use a .csv or .npz file name");
        CheckFolder(s.Output);
        CheckFolder(s.Overlay);

        using IFrameSource source = FrameSource.Open(s.Input, s.FramesPerSecond);
        int width = source.Width, height = source.Height;
        List<(float X, float Y)> queries = s.Points is not null ? ParsePoints(s.Points) : GridPoints(s.Grid!.Value, width, height);
        for (int i = 0; i < queries.Count; i++)
        {
            (float x, float y) = queries[i];
            if (x < 0 || y < 0 || x > width || y > height)
                throw new CliException($"point {i} ({x.ToString(CultureInfo.InvariantCulture)}, {y.ToString(CultureInfo.InvariantCulture)}) lies outside the {width}x{height} image");
        }
        int n = queries.Count;

        using LoadedTracker tracker = load();
        using StreamTracker stream = tracker.CreateStream();
        using var frame = new RgbImage();
        using VideoWriter? overlayWriter = s.Overlay is null ? null : new VideoWriter(s.Overlay, width, height, source.FramesPerSecond);
        var renderer = new OverlayRenderer();
        var overlayPoints = new OverlayPoint[n];
        using StreamWriter? csv = format == ".csv" ? new StreamWriter(s.Output!, false, new UTF8Encoding(false)) : null;
        csv?.WriteLine("frame,id,x,y,visible,occlusion_prob,uncertainty");

        long? total = source.FrameCount is { } fc ? (s.MaxFrames is { } m ? Math.Min(fc, m) : fc) : s.MaxFrames;
        var progress = new Progress("track", total);
        var perFrame = new List<float[]>(); // per frame: n x (x, y, visible, occlusion_prob, uncertainty)
        var ticks = new List<long>();
        var indexOfId = new Dictionary<int, int>();
        var inv = CultureInfo.InvariantCulture;
        int t = 0;
        while ((s.MaxFrames is not { } max || t < max) && source.TryReadFrame(frame))
        {
            if (t == s.QueryFrame)
            {
                for (int i = 0; i < n; i++) indexOfId[stream.AddPoint(queries[i].X, queries[i].Y)] = i;
            }
            long t0 = Stopwatch.GetTimestamp();
            TrackFrameResult result = stream.Track(frame);
            ticks.Add(Stopwatch.GetTimestamp() - t0);

            var row = new float[n * 5];
            for (int i = 0; i < n; i++)
            {
                row[5 * i] = queries[i].X;
                row[5 * i + 1] = queries[i].Y;
                row[5 * i + 3] = 1;
                row[5 * i + 4] = float.NaN;
            }
            foreach (PointEstimate p in result.Points)
            {
                if (!indexOfId.TryGetValue(p.Id, out int i)) continue;
                row[5 * i] = p.X;
                row[5 * i + 1] = p.Y;
                row[5 * i + 2] = p.Visible ? 1 : 0;
                row[5 * i + 3] = p.OcclusionProbability;
                row[5 * i + 4] = p.Uncertainty;
            }
            perFrame.Add(row);

            if (t >= s.QueryFrame)
            {
                if (csv is not null)
                {
                    for (int i = 0; i < n; i++)
                    {
                        csv.Write(t.ToString(inv)); csv.Write(',');
                        csv.Write(i.ToString(inv)); csv.Write(',');
                        csv.Write(row[5 * i].ToString("0.###", inv)); csv.Write(',');
                        csv.Write(row[5 * i + 1].ToString("0.###", inv)); csv.Write(',');
                        csv.Write(row[5 * i + 2] > 0 ? "1" : "0"); csv.Write(',');
                        csv.Write(row[5 * i + 3].ToString("0.####", inv)); csv.Write(',');
                        csv.WriteLine(row[5 * i + 4].ToString("0.####", inv));
                    }
                }
            }
            if (overlayWriter is not null)
            {
                int k = 0;
                if (t >= s.QueryFrame)
                {
                    for (int i = 0; i < n; i++) overlayPoints[k++] = new OverlayPoint(i, row[5 * i], row[5 * i + 1], row[5 * i + 2] > 0);
                }
                renderer.Render(frame, overlayPoints.AsSpan(0, k));
                overlayWriter.WriteFrame(frame);
            }
            progress.Advance();
            t++;
        }
        int frames = t;
        if (frames == 0) throw new CliException($"'{s.Input}' has no frames");
        if (s.QueryFrame >= frames) throw new CliException($"--query-frame {s.QueryFrame} is past the end: '{s.Input}' has {frames} frames");
        overlayWriter?.Complete();

        if (format == ".npz") WriteNpz(s.Output!, perFrame, queries, s.QueryFrame);
        LatencyStats stats = LatencyStats.FromTicks(ticks.ToArray());
        progress.Complete($"track: {frames} frames in {progress.ElapsedSeconds.ToString("F1", inv)} s");
        Console.Out.WriteLine($"tracked {frames} frames ({width}x{height}), {n} points from frame {s.QueryFrame}, model {ModelCatalog.FolderName(tracker.Directory)}, method {TrackingMethods.Name(tracker.Method)}");
        Console.Out.WriteLine($"ms/frame (Track): p50 {stats.MedianMs.ToString("F2", inv)}, p99 {stats.P99Ms.ToString("F2", inv)}, mean {stats.MeanMs.ToString("F2", inv)} ({(1000 / stats.MeanMs).ToString("F1", inv)} fps)");
        if (s.Output is not null) Console.Out.WriteLine($"tracks: {s.Output}");
        if (s.Overlay is not null) Console.Out.WriteLine($"overlay: {s.Overlay}");
        return 0;
    }

    private static void WriteNpz(string path, List<float[]> perFrame, List<(float X, float Y)> queries, int queryFrame)
    {
        int n = queries.Count, t = perFrame.Count;
        var tracks = new float[n * t * 2];
        var occluded = new bool[n * t];
        var occlusionProb = new float[n * t];
        var uncertainty = new float[n * t];
        var queryPoints = new float[n * 3];
        for (int i = 0; i < n; i++)
        {
            queryPoints[3 * i] = queryFrame;
            queryPoints[3 * i + 1] = queries[i].Y;
            queryPoints[3 * i + 2] = queries[i].X;
            for (int f = 0; f < t; f++)
            {
                float[] row = perFrame[f];
                int k = i * t + f;
                tracks[2 * k] = row[5 * i];
                tracks[2 * k + 1] = row[5 * i + 1];
                occluded[k] = !(row[5 * i + 2] > 0);
                occlusionProb[k] = row[5 * i + 3];
                uncertainty[k] = row[5 * i + 4];
            }
        }
        NpzWriter.Save(path,
        [
            new("tracks", NpyArray.Create(tracks, n, t, 2)),
            new("occluded", NpyArray.Create(occluded, n, t)),
            new("occlusion_prob", NpyArray.Create(occlusionProb, n, t)),
            new("uncertainty", NpyArray.Create(uncertainty, n, t)),
            new("query_points", NpyArray.Create(queryPoints, n, 3)),
        ]);
    }

    private static void CheckFolder(string? file)
    {
        if (file is null) return;
        string? dir = Path.GetDirectoryName(Path.GetFullPath(file));
        if (dir is not null && !Directory.Exists(dir)) throw new CliException($"cannot write '{file}': folder '{dir}' does not exist");
    }
}
