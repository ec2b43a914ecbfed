using OpenCvSharp;

namespace CausalTap.Imaging;

/// <summary>
/// Decodes JPEG and PNG bytes to RGB8 with OpenCV's <c>imdecode</c> (libjpeg-turbo and libpng inside OpenCV).
/// <para>
/// Truncated data is refused before decoding: <c>imdecode</c> returns a grey-filled image for a JPEG cut short
/// (libjpeg only warns), which must not be tracked as if it were a real frame. So a JPEG must end with its EOI
/// marker (FF D9, trailing zero padding allowed) and a PNG with its IEND chunk.
/// </para>
/// <para>
/// OpenCV decodes straight to RGB (<c>IMREAD_COLOR_RGB</c>, OpenCV 4.10+), so there is no colour-conversion pass;
/// the pixels are then copied into the destination's buffer. One per stream, not thread-safe. Decoding into a warm
/// <see cref="RgbImage"/> of the same size reuses its buffer; the one managed allocation per call is the 104-byte
/// <see cref="Mat"/> object that <c>Cv2.ImDecode</c> returns (OpenCvSharp has no decode-into overload), whose
/// pixels are native memory freed at once by <c>using</c>.
/// </para>
/// </summary>
public sealed class ImageDecoder
{
    /// <summary>The last 8 bytes of every PNG: the IEND chunk's type and CRC.</summary>
    private static ReadOnlySpan<byte> PngEnd => [(byte)'I', (byte)'E', (byte)'N', (byte)'D', 0xAE, 0x42, 0x60, 0x82];

    /// <summary>OpenCV's <c>IMREAD_COLOR_RGB</c>: 8-bit, 3 channels, RGB order (not in OpenCvSharp's enum).</summary>
    private const ImreadModes ColorRgb = (ImreadModes)256;

    /// <summary>Largest width or height accepted (guards against absurd headers allocating gigabytes).</summary>
    public int MaxDimension { get; init; } = 16384;

    /// <summary>
    /// Decodes <paramref name="data"/> (<paramref name="format"/> is <see cref="PixelFormat.Jpeg"/> or
    /// <see cref="PixelFormat.Png"/>) into <paramref name="destination"/>, resized to the image's size.
    /// </summary>
    /// <exception cref="ImageDecodeException">not that format, truncated, corrupt or too large.</exception>
    public void Decode(ReadOnlySpan<byte> data, PixelFormat format, RgbImage destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        CheckComplete(data, format);
        OpenCvRuntime.EnsureLoaded();
        using Mat rgb = Cv2.ImDecode(data, ColorRgb);
        if (rgb.Empty())
        {
            throw new ImageDecodeException(ImageDecodeError.Corrupt, format,
                $"could not decode the {Name(format)} ({data.Length} bytes): OpenCV's decoder rejected the data");
        }
        if (rgb.Cols > MaxDimension || rgb.Rows > MaxDimension)
        {
            throw new ImageDecodeException(ImageDecodeError.Unsupported, format,
                $"{Name(format)} size {rgb.Cols}x{rgb.Rows} is outside the accepted range 1..{MaxDimension}");
        }
        destination.Resize(rgb.Cols, rgb.Rows);
        rgb.AsSpan<byte>().CopyTo(destination.Pixels); // imdecode's result is continuous, rows packed like ours
    }

    /// <summary>Refuses data that is not <paramref name="format"/> or does not reach the format's end marker.</summary>
    private static void CheckComplete(ReadOnlySpan<byte> data, PixelFormat format)
    {
        switch (format)
        {
            case PixelFormat.Jpeg:
                if (data.Length < 2 || data[0] != 0xFF || data[1] != 0xD8)
                {
                    string hint = ImageSniffer.Detect(data) == PixelFormat.Png ? " (the data is a PNG)" : "";
                    throw new ImageDecodeException(data.Length < 2 ? ImageDecodeError.Truncated : ImageDecodeError.Corrupt, format,
                        $"not a JPEG: data ({data.Length} bytes) does not start with the SOI marker FF D8{hint}");
                }
                ReadOnlySpan<byte> body = data.TrimEnd((byte)0);
                if (body.Length < 4 || body[^2] != 0xFF || body[^1] != 0xD9)
                {
                    throw new ImageDecodeException(ImageDecodeError.Truncated, format,
                        $"JPEG data ({data.Length} bytes) does not end with the EOI marker FF D9: the JPEG data is truncated");
                }
                break;
            case PixelFormat.Png:
                if (!data.StartsWith(ImageSniffer.PngSignature))
                {
                    throw new ImageDecodeException(data.Length < 8 ? ImageDecodeError.Truncated : ImageDecodeError.Corrupt, format,
                        $"not a PNG: data ({data.Length} bytes) does not start with the PNG signature 89 50 4E 47 0D 0A 1A 0A");
                }
                if (!data.EndsWith(PngEnd))
                {
                    throw new ImageDecodeException(ImageDecodeError.Truncated, format,
                        $"PNG data ({data.Length} bytes) does not end with the IEND chunk: the PNG data is truncated");
                }
                break;
            default:
                throw new ImageDecodeException(ImageDecodeError.Unsupported, format, $"{format} is not an encoded image format (JPEG or PNG)");
        }
    }

    private static string Name(PixelFormat format) => format == PixelFormat.Png ? "PNG" : "JPEG";
}
