using System.Globalization;
using System.Text.Json;

namespace CausalTap.Imaging.Video;

/// <summary>What ffprobe says about a file's first video stream.</summary>
/// <param name="Width">frame width in pixels (as decoded, before any rotation metadata).</param>
/// <param name="Height">frame height in pixels.</param>
/// <param name="FramesPerSecond">average frame rate (falls back to r_frame_rate); 0 when unknown.</param>
/// <param name="FrameCount">number of frames (container count, else counted packets); null when unknown.</param>
/// <param name="Codec">codec name, e.g. "h264".</param>
public sealed record VideoInfo(int Width, int Height, double FramesPerSecond, int? FrameCount, string Codec)
{
    /// <summary>Runs <c>ffprobe</c> on <paramref name="path"/>.</summary>
    /// <exception cref="ImagingDependencyException">ffprobe is not installed.</exception>
    /// <exception cref="VideoIOException">the file is missing, unreadable or has no video stream.</exception>
    public static VideoInfo Probe(string path, string? ffprobePath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!path.Contains("://", StringComparison.Ordinal) && !File.Exists(path))
        {
            throw new VideoIOException($"video file '{path}' does not exist");
        }
        // -count_packets gives a frame count even for containers that do not store one (mkv, webm);
        // it only demuxes, so it is cheap compared with decoding.
        string[] args =
        [
            "-v", "error", "-select_streams", "v:0", "-count_packets",
            "-show_entries", "stream=width,height,avg_frame_rate,r_frame_rate,nb_frames,nb_read_packets,codec_name",
            "-of", "json", path,
        ];
        using var probe = FfmpegProcess.Start(FfmpegProcess.Resolve("ffprobe", ffprobePath), args, redirectInput: false, redirectOutput: true);
        var json = new StreamReader(probe.StandardOutput).ReadToEnd();
        var code = probe.WaitForExit(TimeSpan.FromSeconds(60));
        if (code != 0)
        {
            throw new VideoIOException($"ffprobe could not read '{path}' (exit {code}): {probe.StderrTail()}");
        }
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("streams", out var streams) || streams.GetArrayLength() == 0)
            {
                throw new VideoIOException($"'{path}' has no video stream");
            }
            var s = streams[0];
            var width = s.GetProperty("width").GetInt32();
            var height = s.GetProperty("height").GetInt32();
            var fps = Rate(s, "avg_frame_rate");
            if (fps <= 0)
            {
                fps = Rate(s, "r_frame_rate");
            }
            var frames = Count(s, "nb_frames") ?? Count(s, "nb_read_packets");
            var codec = s.TryGetProperty("codec_name", out var c) ? c.GetString() ?? "" : "";
            return new VideoInfo(width, height, fps, frames, codec);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new VideoIOException($"could not understand ffprobe's output for '{path}': {e.Message}", e);
        }
    }

    private static double Rate(JsonElement s, string name)
    {
        if (!s.TryGetProperty(name, out var v) || v.GetString() is not { } text)
        {
            return 0;
        }
        var parts = text.Split('/');
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var num)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var den)
            && den > 0)
        {
            return num / den;
        }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) ? r : 0;
    }

    private static int? Count(JsonElement s, string name) =>
        s.TryGetProperty(name, out var v) && int.TryParse(v.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : null;
}
