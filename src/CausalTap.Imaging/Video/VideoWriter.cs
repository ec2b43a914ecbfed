using System.Globalization;

namespace CausalTap.Imaging.Video;

/// <summary>
/// Encodes RGB frames to a video file by piping raw <c>rgb24</c> into an <c>ffmpeg</c> subprocess: H.264
/// (libx264, CRF <see cref="Crf"/>, preset veryfast) when the local ffmpeg has it, else MPEG-4 part 2, always
/// <c>yuv420p</c> so that ordinary players open the file. Odd sizes are padded by one pixel to even (yuv420p
/// needs even dimensions). Call <see cref="Complete"/> to finish the file and see encoder errors;
/// <see cref="Dispose"/> alone finishes it too but swallows errors.
/// </summary>
public sealed class VideoWriter : IDisposable
{
    private static readonly Dictionary<string, bool> s_hasX264 = [];
    private readonly FfmpegProcess _ffmpeg;
    private readonly string _path;
    private bool _completed;

    /// <summary>Starts ffmpeg writing <paramref name="path"/> (overwritten if it exists).</summary>
    /// <exception cref="ImagingDependencyException">ffmpeg is not installed.</exception>
    /// <exception cref="VideoIOException">the output folder does not exist.</exception>
    public VideoWriter(string path, int width, int height, double framesPerSecond, string? ffmpegPath = null, int crf = 18)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (!(framesPerSecond > 0) || double.IsInfinity(framesPerSecond))
        {
            throw new ArgumentOutOfRangeException(nameof(framesPerSecond), $"frame rate must be positive, got {framesPerSecond}");
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir))
        {
            throw new VideoIOException($"cannot write '{path}': folder '{dir}' does not exist");
        }
        _path = path;
        Width = width;
        Height = height;
        FramesPerSecond = framesPerSecond;
        Crf = crf;
        var exe = FfmpegProcess.Resolve("ffmpeg", ffmpegPath);
        Codec = HasLibx264(exe) ? "libx264" : "mpeg4";
        var fps = framesPerSecond.ToString("R", CultureInfo.InvariantCulture);
        var args = new List<string>
        {
            "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{width}x{height}", "-framerate", fps, "-i", "-",
            "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", Codec, "-pix_fmt", "yuv420p", "-r", fps,
        };
        args.AddRange(Codec == "libx264"
            ? ["-preset", "veryfast", "-crf", crf.ToString(CultureInfo.InvariantCulture)]
            : ["-q:v", "3"]);
        args.AddRange(["-movflags", "+faststart", path]);
        _ffmpeg = FfmpegProcess.Start(exe, args, redirectInput: true, redirectOutput: false);
    }

    /// <summary>Frame width.</summary>
    public int Width { get; }

    /// <summary>Frame height.</summary>
    public int Height { get; }

    /// <summary>Output frame rate.</summary>
    public double FramesPerSecond { get; }

    /// <summary>libx264 constant rate factor (lower = better; 18 is visually near-lossless).</summary>
    public int Crf { get; }

    /// <summary>The encoder in use: "libx264" or "mpeg4".</summary>
    public string Codec { get; }

    /// <summary>Frames written so far.</summary>
    public int FramesWritten { get; private set; }

    /// <summary>Appends one frame; it must be <see cref="Width"/> x <see cref="Height"/>.</summary>
    public void WriteFrame(RgbImage frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ObjectDisposedException.ThrowIf(_completed, this);
        if (frame.Width != Width || frame.Height != Height)
        {
            throw new ArgumentException($"frame is {frame.Width}x{frame.Height}, the video is {Width}x{Height}", nameof(frame));
        }
        try
        {
            var stdin = _ffmpeg.StandardInput;
            if (frame.Stride == Width * 3)
            {
                stdin.Write(frame.Pixels);
            }
            else
            {
                for (var y = 0; y < Height; y++)
                {
                    stdin.Write(frame.Row(y));
                }
            }
        }
        catch (IOException e)
        {
            // ffmpeg closed the pipe: it has failed; report its own words.
            var code = _ffmpeg.WaitForExit(TimeSpan.FromSeconds(10));
            _completed = true;
            throw new VideoIOException($"ffmpeg stopped while writing '{_path}' (exit {code}): {_ffmpeg.StderrTail()}", e);
        }
        FramesWritten++;
    }

    /// <summary>Closes the pipe, waits for ffmpeg to finish the file and throws if it failed.</summary>
    public void Complete()
    {
        if (_completed)
        {
            return;
        }
        _completed = true;
        try
        {
            _ffmpeg.StandardInput.Close();
        }
        catch (IOException)
        {
            // ffmpeg already exited; its exit code says why
        }
        var code = _ffmpeg.WaitForExit(TimeSpan.FromMinutes(5));
        if (code != 0)
        {
            throw new VideoIOException($"ffmpeg failed to write '{_path}' (exit {code}): {_ffmpeg.StderrTail()}");
        }
    }

    /// <summary>Finishes the file if <see cref="Complete"/> was not called (errors are swallowed) and releases ffmpeg.</summary>
    public void Dispose()
    {
        try
        {
            Complete();
        }
        catch (VideoIOException)
        {
            // Dispose must not throw; callers who care call Complete().
        }
        _ffmpeg.Dispose();
    }

    private static bool HasLibx264(string ffmpeg)
    {
        lock (s_hasX264)
        {
            if (s_hasX264.TryGetValue(ffmpeg, out var has))
            {
                return has;
            }
            using var p = FfmpegProcess.Start(ffmpeg, ["-hide_banner", "-encoders"], redirectInput: false, redirectOutput: true);
            var text = new StreamReader(p.StandardOutput).ReadToEnd();
            p.WaitForExit(TimeSpan.FromSeconds(30));
            has = text.Contains(" libx264 ", StringComparison.Ordinal);
            s_hasX264[ffmpeg] = has;
            return has;
        }
    }
}
