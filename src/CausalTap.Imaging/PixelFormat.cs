namespace CausalTap.Imaging;

/// <summary>
/// How the bytes of an incoming frame are laid out. Raw formats need width, height and (optionally) stride
/// from the caller; encoded formats carry their own size.
/// </summary>
public enum PixelFormat
{
    /// <summary>Not set; always rejected.</summary>
    Unspecified = 0,

    /// <summary>Raw 8-bit interleaved R, G, B (3 bytes per pixel).</summary>
    Rgb8 = 1,

    /// <summary>Raw 8-bit interleaved B, G, R (3 bytes per pixel, OpenCV's default order).</summary>
    Bgr8 = 2,

    /// <summary>Raw 8-bit grey (1 byte per pixel); replicated into R, G and B.</summary>
    Gray8 = 3,

    /// <summary>A JPEG (JFIF/EXIF) file, decoded with OpenCV.</summary>
    Jpeg = 4,

    /// <summary>A PNG file (8- or 16-bit, non-interlaced).</summary>
    Png = 5,

    /// <summary>JPEG or PNG, told apart by the file's magic bytes.</summary>
    Encoded = 6,
}

/// <summary>Helpers for <see cref="PixelFormat"/>.</summary>
public static class PixelFormats
{
    /// <summary>Bytes per pixel of a raw format; 0 for encoded or unspecified formats.</summary>
    public static int BytesPerPixel(this PixelFormat format) => format switch
    {
        PixelFormat.Rgb8 or PixelFormat.Bgr8 => 3,
        PixelFormat.Gray8 => 1,
        _ => 0,
    };

    /// <summary>True for formats whose bytes are pixels (no header): the caller must give the size.</summary>
    public static bool IsRaw(this PixelFormat format) => format.BytesPerPixel() != 0;
}
