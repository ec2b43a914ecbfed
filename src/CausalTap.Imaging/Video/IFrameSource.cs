namespace CausalTap.Imaging.Video;

/// <summary>A sequence of RGB frames of one size: a video file (<see cref="VideoReader"/>) or a folder of images (<see cref="FrameDirectoryReader"/>).</summary>
public interface IFrameSource : IDisposable
{
    /// <summary>Frame width in pixels.</summary>
    int Width { get; }

    /// <summary>Frame height in pixels.</summary>
    int Height { get; }

    /// <summary>Frames per second (a folder of images reports its configured rate).</summary>
    double FramesPerSecond { get; }

    /// <summary>Number of frames if known up front.</summary>
    int? FrameCount { get; }

    /// <summary>Frames returned so far.</summary>
    int FramesRead { get; }

    /// <summary>Reads the next frame into <paramref name="destination"/> (its buffer is reused); false at the end.</summary>
    bool TryReadFrame(RgbImage destination);
}

/// <summary>Opens the right <see cref="IFrameSource"/> for what a user names on the command line.</summary>
public static class FrameSource
{
    /// <summary>
    /// A <see cref="FrameDirectoryReader"/> for a folder of JPEG/PNG frames; otherwise a <see cref="VideoReader"/>:
    /// a video file, a V4L2 camera (<c>/dev/video0</c>) or an rtsp/http URL; or the test pattern
    /// <c>synthetic:WxH</c> (<see cref="SyntheticFrameSource"/>).
    /// </summary>
    public static IFrameSource Open(string path, double directoryFramesPerSecond = 30) =>
        Directory.Exists(path) ? new FrameDirectoryReader(path) { FramesPerSecond = directoryFramesPerSecond }
        : SyntheticFrameSource.TryParse(path) ?? (IFrameSource)VideoReader.Open(path);
}
