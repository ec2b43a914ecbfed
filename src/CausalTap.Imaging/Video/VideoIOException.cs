namespace CausalTap.Imaging.Video;

/// <summary>
/// A video file, camera or stream could not be opened, read or written (missing or unreadable file, no such
/// camera, unreachable URL, a codec this OpenCV build cannot write). The message names the source and says why.
/// </summary>
public sealed class VideoIOException : Exception
{
    /// <summary>Creates the exception.</summary>
    public VideoIOException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
