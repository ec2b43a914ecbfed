using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CausalTap.Tracking.Evaluation;

/// <summary>The metrics of one video in an evaluation run.</summary>
/// <param name="Name">video name (file name without extension).</param>
/// <param name="NumFrames">T.</param>
/// <param name="Metrics">its TAP-Vid metrics.</param>
/// <param name="MillisecondsPerFrame">tracker time per frame, if measured.</param>
public sealed record TapVidVideoResult(string Name, int NumFrames, TapVidMetricValues Metrics, double? MillisecondsPerFrame = null);

/// <summary>An evaluation run over a dataset: per-video metrics and their mean over videos.</summary>
public sealed record TapVidEvaluation
{
    /// <summary>Builds the run and computes <see cref="Mean"/> (the per-video mean, as the reference).</summary>
    public TapVidEvaluation(IReadOnlyList<TapVidVideoResult> videos, TapVidQueryMode queryMode,
        TapVidResolution resolution, string? model = null, string? dataset = null)
    {
        ArgumentNullException.ThrowIfNull(videos);
        if (videos.Count == 0) throw new ArgumentException("no videos", nameof(videos));
        Videos = videos;
        QueryMode = queryMode;
        Resolution = resolution;
        Model = model;
        Dataset = dataset;
        Mean = TapVidMetrics.Mean(videos.Select(v => v.Metrics).ToArray());
        var times = videos.Where(v => v.MillisecondsPerFrame is not null).ToArray();
        if (times.Length > 0)
        {
            // Frame-weighted: total time / total frames.
            double totalMs = times.Sum(v => v.MillisecondsPerFrame!.Value * v.NumFrames);
            MeanMillisecondsPerFrame = totalMs / times.Sum(v => v.NumFrames);
        }
    }

    /// <summary>Per-video results in run order.</summary>
    public IReadOnlyList<TapVidVideoResult> Videos { get; }

    /// <summary>Query mode used.</summary>
    public TapVidQueryMode QueryMode { get; }

    /// <summary>Resolution the thresholds were measured at.</summary>
    public TapVidResolution Resolution { get; }

    /// <summary>Model name, for the report.</summary>
    public string? Model { get; }

    /// <summary>Dataset folder or name, for the report.</summary>
    public string? Dataset { get; }

    /// <summary>Each metric averaged over videos.</summary>
    public TapVidMetricValues Mean { get; }

    /// <summary>Total tracker time / total frames over the videos that were timed, if any.</summary>
    public double? MeanMillisecondsPerFrame { get; }
}

/// <summary>Formats a <see cref="TapVidEvaluation"/> as a text table (values x100) or as JSON (fractions, reference key names).</summary>
public static class TapVidReport
{
    /// <summary>
    /// A fixed-width table: one row per video and a final "mean" row (mean over videos), values x100 with one
    /// decimal. Columns: N (points), T (frames), AJ, &lt;δavg, OA, J@1..J@16, &lt;δ1..&lt;δ16, and ms/frame when timed.
    /// </summary>
    public static string FormatTable(TapVidEvaluation evaluation)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        bool timed = evaluation.MeanMillisecondsPerFrame is not null;
        var header = new List<string> { "video", "N", "T", "AJ", "<d_avg", "OA" };
        foreach (int t in TapVidMetrics.Thresholds) header.Add("J@" + t);
        foreach (int t in TapVidMetrics.Thresholds) header.Add("<d" + t);
        if (timed) header.Add("ms/frame");

        var rows = new List<string[]>();
        foreach (TapVidVideoResult v in evaluation.Videos)
            rows.Add(Row(v.Name, v.Metrics.NumPoints.ToString(CultureInfo.InvariantCulture), v.NumFrames.ToString(CultureInfo.InvariantCulture), v.Metrics, timed, v.MillisecondsPerFrame));
        int totalFrames = evaluation.Videos.Sum(v => v.NumFrames);
        string[] mean = Row($"mean ({evaluation.Videos.Count} videos)", evaluation.Mean.NumPoints.ToString(CultureInfo.InvariantCulture),
            totalFrames.ToString(CultureInfo.InvariantCulture), evaluation.Mean, timed, evaluation.MeanMillisecondsPerFrame);

        int cols = header.Count;
        var width = new int[cols];
        for (int c = 0; c < cols; c++)
            width[c] = Math.Max(header[c].Length, rows.Append(mean).Max(r => r[c].Length));

        var sb = new StringBuilder();
        sb.Append("TAP-Vid metrics (x100), query mode ").Append(evaluation.QueryMode.ToName())
          .Append(", thresholds at ").Append(evaluation.Resolution.ToString());
        if (evaluation.Model is not null) sb.Append(", model ").Append(evaluation.Model);
        if (evaluation.Dataset is not null) sb.Append(", dataset ").Append(evaluation.Dataset);
        sb.Append('\n');
        void Line(IReadOnlyList<string> cells)
        {
            for (int c = 0; c < cols; c++)
            {
                if (c > 0) sb.Append("  ");
                sb.Append(c == 0 ? cells[c].PadRight(width[c]) : cells[c].PadLeft(width[c]));
            }
            sb.Append('\n');
        }
        Line(header);
        sb.Append(new string('-', width.Sum() + 2 * (cols - 1))).Append('\n');
        foreach (string[] r in rows) Line(r);
        sb.Append(new string('-', width.Sum() + 2 * (cols - 1))).Append('\n');
        Line(mean);
        return sb.ToString();
    }

    private static string[] Row(string name, string n, string t, TapVidMetricValues m, bool timed, double? ms)
    {
        var cells = new List<string> { name, n, t, Pct(m.AverageJaccard), Pct(m.AveragePtsWithinThresh), Pct(m.OcclusionAccuracy) };
        foreach (double j in m.Jaccard) cells.Add(Pct(j));
        foreach (double p in m.PtsWithin) cells.Add(Pct(p));
        if (timed) cells.Add(ms is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) : "-");
        return cells.ToArray();
    }

    private static string Pct(double v) => double.IsNaN(v) ? "nan" : (100 * v).ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>
    /// JSON for machines: <c>{"query_mode", "resolution": [H, W] or null for native, "model", "dataset",
    /// "num_videos", "mean": {...}, "videos": [{"name", "num_points", "num_frames", ...metrics}]}</c>. Metric
    /// values are fractions in [0,1] under the reference's key names (<c>average_jaccard</c>,
    /// <c>average_pts_within_thresh</c>, <c>occlusion_accuracy</c>, <c>jaccard_1</c>.., <c>pts_within_1</c>..);
    /// NaN is written as null.
    /// </summary>
    public static string ToJson(TapVidEvaluation evaluation, bool indented = true)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("query_mode", evaluation.QueryMode.ToName());
            if (evaluation.Resolution.IsNative)
            {
                w.WriteNull("resolution");
            }
            else
            {
                w.WriteStartArray("resolution");
                w.WriteNumberValue(evaluation.Resolution.Height);
                w.WriteNumberValue(evaluation.Resolution.Width);
                w.WriteEndArray();
            }
            if (evaluation.Model is null) w.WriteNull("model"); else w.WriteString("model", evaluation.Model);
            if (evaluation.Dataset is null) w.WriteNull("dataset"); else w.WriteString("dataset", evaluation.Dataset);
            w.WriteNumber("num_videos", evaluation.Videos.Count);
            w.WriteStartObject("mean");
            WriteMetrics(w, evaluation.Mean, evaluation.MeanMillisecondsPerFrame);
            w.WriteEndObject();
            w.WriteStartArray("videos");
            foreach (TapVidVideoResult v in evaluation.Videos)
            {
                w.WriteStartObject();
                w.WriteString("name", v.Name);
                w.WriteNumber("num_frames", v.NumFrames);
                WriteMetrics(w, v.Metrics, v.MillisecondsPerFrame);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteMetrics(Utf8JsonWriter w, TapVidMetricValues m, double? ms)
    {
        w.WriteNumber("num_points", m.NumPoints);
        w.WriteNumber("evaluated_pairs", m.EvaluatedPairs);
        w.WriteNumber("visible_pairs", m.VisiblePairs);
        foreach ((string key, double value) in m.Named())
        {
            if (double.IsFinite(value)) w.WriteNumber(key, value);
            else w.WriteNull(key);
        }
        if (ms is { } v) w.WriteNumber("ms_per_frame", v);
    }
}
