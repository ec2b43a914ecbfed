using OpenCvSharp;

namespace CausalTap.Imaging.Video;

/// <summary>What a <see cref="VideoReader"/> reads from.</summary>
public enum VideoSourceKind
{
    /// <summary>A video file (any container and codec OpenCV's built-in FFmpeg reads).</summary>
    File,

    /// <summary>A V4L2 camera, <c>/dev/videoN</c>: the camera on the robot.</summary>
    Camera,

    /// <summary>A network stream: <c>rtsp://</c>, <c>http(s)://</c> (IP cameras, MJPEG servers).</summary>
    Stream,
}

/// <summary>
/// Reads frames from a video file, a V4L2 camera or a network stream with OpenCV's <see cref="VideoCapture"/>
/// (its FFmpeg backend for files and streams, V4L2 for <c>/dev/video*</c>). Frames are converted from OpenCV's BGR
/// into the caller's <see cref="RgbImage"/>; the native frame buffer is reused. A camera or stream has no frame
/// count and may report no rate (then 30 is assumed).
/// </summary>
public sealed class VideoReader : IFrameSource
{
    private readonly VideoCapture _capture;
    private readonly Mat _bgr = new();
    private readonly string _source;

    private VideoReader(string source, VideoSourceKind kind, VideoCapture capture)
    {
        _source = source;
        Kind = kind;
        _capture = capture;
        VideoInfo info = VideoInfo.Of(capture);
        Info = info.FramesPerSecond > 0 ? info : info with { FramesPerSecond = 30 };
    }

    /// <summary>File, camera or stream.</summary>
    public VideoSourceKind Kind { get; }

    /// <summary>What the source reported when it was opened.</summary>
    public VideoInfo Info { get; }

    /// <inheritdoc/>
    public int Width => Info.Width;

    /// <inheritdoc/>
    public int Height => Info.Height;

    /// <inheritdoc/>
    public double FramesPerSecond => Info.FramesPerSecond;

    /// <inheritdoc/>
    public int? FrameCount => Kind == VideoSourceKind.File ? Info.FrameCount : null;

    /// <inheritdoc/>
    public int FramesRead { get; private set; }

    /// <summary>Which kind of source <paramref name="source"/> names: a URL, a <c>/dev/video*</c> device, else a file.</summary>
    public static VideoSourceKind KindOf(string source) =>
        source.Contains("://", StringComparison.Ordinal) ? VideoSourceKind.Stream
        : source.StartsWith("/dev/video", StringComparison.Ordinal) ? VideoSourceKind.Camera
        : VideoSourceKind.File;

    /// <summary>Opens <paramref name="source"/>: a video file, a V4L2 device such as <c>/dev/video0</c>, or an rtsp/http URL.</summary>
    /// <exception cref="VideoIOException">it does not exist or cannot be opened, with the reason.</exception>
    public static VideoReader Open(string source)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        VideoSourceKind kind = KindOf(source);
        switch (kind)
        {
            case VideoSourceKind.File when !File.Exists(source):
                throw new VideoIOException($"video file '{source}' does not exist");
            case VideoSourceKind.Camera when !File.Exists(source):
                throw new VideoIOException($"camera '{source}' does not exist: no such V4L2 device on this machine (is the camera plugged in, and is the device passed into the container?)");
        }
        OpenCvRuntime.EnsureLoaded();
        var capture = new VideoCapture(source, kind == VideoSourceKind.Camera ? VideoCaptureAPIs.V4L2 : VideoCaptureAPIs.FFMPEG);
        if (!capture.IsOpened())
        {
            capture.Dispose();
            throw new VideoIOException(kind switch
            {
                VideoSourceKind.Camera => $"camera '{source}' cannot be opened through V4L2 (in use by another program, or no permission: add the user to the 'video' group)",
                VideoSourceKind.Stream => $"stream '{source}' cannot be opened (unreachable, wrong URL or credentials, or a protocol OpenCV's FFmpeg does not speak)",
                _ => $"'{source}' cannot be read as a video (not a video file, or a codec OpenCV's FFmpeg cannot decode)",
            });
        }
        var reader = new VideoReader(source, kind, capture);
        if (reader.Width <= 0 || reader.Height <= 0)
        {
            reader.Dispose();
            throw new VideoIOException($"'{source}' reports a frame size of {reader.Width}x{reader.Height}");
        }
        return reader;
    }

    /// <inheritdoc/>
    public bool TryReadFrame(RgbImage destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!_capture.Read(_bgr) || _bgr.Empty()) return false;
        if (_bgr.Cols != Width || _bgr.Rows != Height)
            throw new VideoIOException($"'{_source}': frame {FramesRead} is {_bgr.Cols}x{_bgr.Rows}, but the source reported {Width}x{Height}");
        destination.Resize(Width, Height);
        Cv2.CvtColor(_bgr, destination.AsMat(), _bgr.Channels() == 1 ? ColorConversionCodes.GRAY2RGB : ColorConversionCodes.BGR2RGB);
        FramesRead++;
        return true;
    }

    /// <summary>Closes the file, camera or stream.</summary>
    public void Dispose()
    {
        _capture.Dispose();
        _bgr.Dispose();
    }
}
