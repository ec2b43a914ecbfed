using OpenCvSharp;

namespace CausalTap.Imaging.Video;

/// <summary>
/// Encodes RGB frames to a video file with OpenCV's <see cref="OpenCvSharp.VideoWriter"/>: MPEG-4 part 2
/// (<c>mp4v</c>) for <c>.mp4</c> and <c>.mov</c>, Motion JPEG (<c>MJPG</c>) for <c>.avi</c>. This OpenCV build cannot
/// write H.264, and these two play in ordinary players. A writer that does not open is an error at once, naming the
/// file and codec. Both codecs store 4:2:0 chroma and OpenCV silently crops an odd size, so an odd width or height is
/// padded to even by repeating the last column or row. Call <see cref="Complete"/> (or <see cref="Dispose"/>) to
/// finish the file.
/// </summary>
public sealed class VideoWriter : IDisposable
{
    private readonly OpenCvSharp.VideoWriter _writer;
    private readonly Mat _bgr = new();
    private readonly Mat _padded = new();
    private bool _completed;

    /// <summary>Opens <paramref name="path"/> for writing (overwritten if it exists).</summary>
    /// <exception cref="VideoIOException">the folder does not exist, the extension has no codec, or the writer does not open.</exception>
    public VideoWriter(string path, int width, int height, double framesPerSecond)
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
        Codec = CodecFor(path);
        OpenCvRuntime.EnsureLoaded();
        Width = width;
        Height = height;
        FramesPerSecond = framesPerSecond;
        EncodedWidth = width + (width & 1);
        EncodedHeight = height + (height & 1);
        _writer = new OpenCvSharp.VideoWriter(path, FourCC.FromString(Codec), framesPerSecond, new Size(EncodedWidth, EncodedHeight), isColor: true);
        if (!_writer.IsOpened())
        {
            _writer.Dispose();
            throw new VideoIOException($"cannot write '{path}': OpenCV's video writer did not open with codec {Codec} at {width}x{height}");
        }
    }

    /// <summary>The FourCC used for <paramref name="path"/>'s extension.</summary>
    /// <exception cref="VideoIOException">an extension this writer has no codec for.</exception>
    public static string CodecFor(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".mp4" or ".mov" or ".m4v" => "mp4v",
        ".avi" => "MJPG",
        var ext => throw new VideoIOException($"cannot write '{path}': no codec for '{ext}' (use .mp4 for MPEG-4 or .avi for Motion JPEG)"),
    };

    /// <summary>Frame width.</summary>
    public int Width { get; }

    /// <summary>Frame height.</summary>
    public int Height { get; }

    /// <summary>Width stored in the file: <see cref="Width"/> rounded up to even.</summary>
    public int EncodedWidth { get; }

    /// <summary>Height stored in the file: <see cref="Height"/> rounded up to even.</summary>
    public int EncodedHeight { get; }

    /// <summary>Frame rate written into the file.</summary>
    public double FramesPerSecond { get; }

    /// <summary>The FourCC in use (mp4v or MJPG).</summary>
    public string Codec { get; }

    /// <summary>Frames written so far.</summary>
    public int FramesWritten { get; private set; }

    /// <summary>Appends one frame (its size must be <see cref="Width"/> x <see cref="Height"/>).</summary>
    public void WriteFrame(RgbImage frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ObjectDisposedException.ThrowIf(_completed, this);
        if (frame.Width != Width || frame.Height != Height)
        {
            throw new ArgumentException($"frame is {frame.Width}x{frame.Height}, the video is {Width}x{Height}", nameof(frame));
        }
        Cv2.CvtColor(frame.AsMat(), _bgr, ColorConversionCodes.RGB2BGR);
        if (EncodedWidth == Width && EncodedHeight == Height)
        {
            _writer.Write(_bgr);
        }
        else
        {
            Cv2.CopyMakeBorder(_bgr, _padded, 0, EncodedHeight - Height, 0, EncodedWidth - Width, BorderTypes.Replicate);
            _writer.Write(_padded);
        }
        FramesWritten++;
    }

    /// <summary>Finishes the file (writes the index/trailer).</summary>
    public void Complete()
    {
        if (_completed) return;
        _completed = true;
        _writer.Release();
    }

    /// <summary>Finishes the file if <see cref="Complete"/> was not called, and frees the encoder.</summary>
    public void Dispose()
    {
        Complete();
        _writer.Dispose();
        _bgr.Dispose();
        _padded.Dispose();
    }
}
