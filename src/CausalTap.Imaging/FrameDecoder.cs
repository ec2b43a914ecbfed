namespace CausalTap.Imaging;

/// <summary>
/// The front door for incoming frames: bytes + <see cref="PixelFormat"/> (+ size and stride for raw formats)
/// in, an RGB8 <see cref="RgbImage"/> out: JPEG and PNG through OpenCV (<see cref="ImageDecoder"/>), raw pixels
/// through <see cref="RawPixelConverter"/>. One instance per stream; not thread-safe. Raw frames decode without
/// allocating once the destination is warm.
/// </summary>
public sealed class FrameDecoder : IDisposable
{
    private readonly ImageDecoder _encoded = new();

    /// <summary>
    /// Decodes one frame into <paramref name="destination"/>.
    /// </summary>
    /// <param name="data">the frame bytes.</param>
    /// <param name="format">layout of <paramref name="data"/>; <see cref="PixelFormat.Encoded"/> sniffs JPEG vs PNG.</param>
    /// <param name="destination">receives the RGB pixels (resized; its buffer grows only when needed).</param>
    /// <param name="width">raw formats: width in pixels (ignored for encoded formats).</param>
    /// <param name="height">raw formats: height in pixels.</param>
    /// <param name="stride">raw formats: bytes per row, 0 = packed.</param>
    /// <returns>the format actually decoded (useful after sniffing).</returns>
    /// <exception cref="ImageDecodeException">bad data or layout; the decoder stays usable.</exception>
    public PixelFormat Decode(ReadOnlySpan<byte> data, PixelFormat format, RgbImage destination, int width = 0, int height = 0, int stride = 0)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (format == PixelFormat.Encoded)
        {
            format = ImageSniffer.Detect(data);
            if (format == PixelFormat.Unspecified)
            {
                var head = Convert.ToHexString(data[..Math.Min(8, data.Length)]);
                throw new ImageDecodeException(data.Length < 8 ? ImageDecodeError.Truncated : ImageDecodeError.Corrupt, PixelFormat.Encoded,
                    $"encoded frame ({data.Length} bytes, starting {(head.Length == 0 ? "<empty>" : head)}) is neither JPEG (FF D8 FF) nor PNG (89 50 4E 47 0D 0A 1A 0A)");
            }
        }
        switch (format)
        {
            case PixelFormat.Jpeg:
            case PixelFormat.Png:
                _encoded.Decode(data, format, destination);
                break;
            case PixelFormat.Rgb8:
            case PixelFormat.Bgr8:
            case PixelFormat.Gray8:
                RawPixelConverter.Convert(data, format, width, height, stride, destination);
                break;
            default:
                throw new ImageDecodeException(ImageDecodeError.Unsupported, format,
                    $"pixel format {format} is not supported (use Rgb8, Bgr8, Gray8, Jpeg, Png or Encoded)");
        }
        return format;
    }

    /// <summary>Nothing native is held between frames; kept so callers can scope a decoder with <c>using</c>.</summary>
    public void Dispose()
    {
    }
}
