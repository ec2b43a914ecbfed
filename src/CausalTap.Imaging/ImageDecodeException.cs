namespace CausalTap.Imaging;

/// <summary>Why a frame could not be turned into an RGB image.</summary>
public enum ImageDecodeError
{
    /// <summary>The bytes are not a valid image of the stated format (bad magic, bad header, bad checksum, bad entropy data).</summary>
    Corrupt,

    /// <summary>The data ends before the image does.</summary>
    Truncated,

    /// <summary>A valid image using a feature this decoder does not implement (for example interlaced PNG, CMYK JPEG).</summary>
    Unsupported,

    /// <summary>The caller's description of raw pixels does not fit the data (size, stride, buffer length, format).</summary>
    InvalidLayout,
}

/// <summary>
/// A frame could not be decoded. The message says what was wrong in words a camera-node author can act on;
/// <see cref="Error"/> lets a server map it to a status code. Thrown for bad <i>input</i> only: the decoder
/// stays usable for the next frame.
/// </summary>
public sealed class ImageDecodeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ImageDecodeException(ImageDecodeError error, PixelFormat format, string message, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
        Format = format;
    }

    /// <summary>The kind of failure.</summary>
    public ImageDecodeError Error { get; }

    /// <summary>The format that was being decoded.</summary>
    public PixelFormat Format { get; }
}

/// <summary>
/// OpenCV's native library (or a system library it needs) is not installed.
/// The message names the package and says to run <c>scripts/setup.sh</c>.
/// </summary>
public sealed class ImagingDependencyException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ImagingDependencyException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
