namespace CausalTap.Imaging.Video;

/// <summary>
/// Reads a video file frame by frame by running <c>ffmpeg</c> as a subprocess that decodes to raw
/// <c>rgb24</c> on its stdout. Size, rate and frame count come from <c>ffprobe</c> first. Frames are read
/// straight into the caller's <see cref="RgbImage"/> (no per-frame allocation). Rotation metadata is ignored
/// (<c>-noautorotate</c>) so frames always have the probed coded size, and every decoded frame is delivered
/// once (<c>-vsync passthrough</c>: no duplicates or drops for variable-rate files).
/// </summary>
public sealed class VideoReader : IFrameSource
{
    private readonly FfmpegProcess _ffmpeg;
    private readonly string _path;
    private readonly int _frameBytes;
    private bool _ended;

    private VideoReader(string path, VideoInfo info, FfmpegProcess ffmpeg)
    {
        _path = path;
        Info = info;
        _ffmpeg = ffmpeg;
        _frameBytes = info.Width * info.Height * 3;
    }

    /// <summary>What ffprobe reported.</summary>
    public VideoInfo Info { get; }

    /// <inheritdoc/>
    public int Width => Info.Width;

    /// <inheritdoc/>
    public int Height => Info.Height;

    /// <inheritdoc/>
    public double FramesPerSecond => Info.FramesPerSecond;

    /// <inheritdoc/>
    public int? FrameCount => Info.FrameCount;

    /// <inheritdoc/>
    public int FramesRead { get; private set; }

    /// <summary>Probes <paramref name="path"/> and starts decoding it.</summary>
    /// <exception cref="ImagingDependencyException">ffmpeg or ffprobe is not installed.</exception>
    /// <exception cref="VideoIOException">the file is missing or unreadable.</exception>
    public static VideoReader Open(string path, string? ffmpegPath = null, string? ffprobePath = null)
    {
        var info = VideoInfo.Probe(path, ffprobePath);
        if (info.Width <= 0 || info.Height <= 0)
        {
            throw new VideoIOException($"'{path}' reports a frame size of {info.Width}x{info.Height}");
        }
        string[] args =
        [
            "-v", "error", "-nostdin", "-noautorotate", "-i", path,
            "-map", "0:v:0", "-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ];
        var ffmpeg = FfmpegProcess.Start(FfmpegProcess.Resolve("ffmpeg", ffmpegPath), args, redirectInput: false, redirectOutput: true);
        return new VideoReader(path, info, ffmpeg);
    }

    /// <inheritdoc/>
    public bool TryReadFrame(RgbImage destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (_ended)
        {
            return false;
        }
        destination.Resize(Width, Height);
        var got = _ffmpeg.StandardOutput.ReadAtLeast(destination.Buffer.AsSpan(0, _frameBytes), _frameBytes, throwOnEndOfStream: false);
        if (got == _frameBytes)
        {
            FramesRead++;
            return true;
        }
        _ended = true;
        var code = _ffmpeg.WaitForExit(TimeSpan.FromSeconds(30));
        if (code != 0)
        {
            throw new VideoIOException($"ffmpeg failed while decoding '{_path}' after {FramesRead} frames (exit {code}): {_ffmpeg.StderrTail()}");
        }
        if (got != 0)
        {
            throw new VideoIOException($"ffmpeg's output for '{_path}' ended inside frame {FramesRead} ({got} of {_frameBytes} bytes)");
        }
        return false;
    }

    /// <summary>Stops ffmpeg (if still running).</summary>
    public void Dispose() => _ffmpeg.Dispose();
}
