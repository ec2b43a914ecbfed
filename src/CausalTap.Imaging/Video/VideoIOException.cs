namespace CausalTap.Imaging.Video;

/// <summary>
/// A video file could not be probed, read or written (missing or unreadable file, ffmpeg failure). The message
/// includes the file and the last lines ffmpeg/ffprobe printed. A missing ffmpeg binary is an
/// <see cref="ImagingDependencyException"/> instead.
/// </summary>
public sealed class VideoIOException : Exception
{
    /// <summary>Creates the exception.</summary>
    public VideoIOException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
