using System.Runtime.InteropServices;
using CausalTap.Imaging.Native;

namespace CausalTap.Imaging;

/// <summary>
/// Decodes JPEG bytes to RGB8 with libjpeg-turbo's TurboJPEG API (<c>libturbojpeg.so.0</c>).
/// <para>
/// Create one per stream and reuse it: it owns one TurboJPEG handle, and decoding into a warm
/// <see cref="RgbImage"/> of the same size allocates nothing. Not thread-safe (the handle is stateful).
/// Output matches what OpenCV's and PIL's libjpeg-turbo decoders produce with default settings (accurate
/// integer IDCT, "fancy" chroma upsampling).
/// </para>
/// <para>
/// Any libjpeg warning is treated as an error (TJFLAG_STOPONWARNING): a truncated file only produces the
/// warning "Premature end of JPEG file" and grey fill, which must not be tracked as if it were a real frame.
/// </para>
/// </summary>
public sealed unsafe class JpegDecoder : IDisposable
{
    private readonly TurboJpegLibrary _lib;
    private readonly TurboJpegHandle _handle;

    /// <summary>
    /// Creates a decoder. Throws <see cref="ImagingDependencyException"/> when libturbojpeg is not installed.
    /// </summary>
    public JpegDecoder() : this(TurboJpegLibrary.Shared)
    {
    }

    internal JpegDecoder(TurboJpegLibrary library)
    {
        _lib = library;
        _handle = new TurboJpegHandle(library);
    }

    /// <summary>Largest width or height accepted (guards against absurd headers allocating gigabytes).</summary>
    public int MaxDimension { get; init; } = 16384;

    /// <summary>Reads the image size from the JPEG header without decoding pixels.</summary>
    public (int Width, int Height) ReadSize(ReadOnlySpan<byte> jpeg)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        CheckMagic(jpeg);
        int w, h, subsamp, colorspace;
        var handle = _handle.DangerousGetHandle();
        fixed (byte* src = jpeg)
        {
            if (_lib.DecompressHeader3(handle, src, new CULong((nuint)jpeg.Length), &w, &h, &subsamp, &colorspace) != 0)
            {
                throw Fail("could not read the JPEG header", handle);
            }
        }
        return (w, h);
    }

    /// <summary>
    /// Decodes <paramref name="jpeg"/> into <paramref name="destination"/>, which is resized to the JPEG's size
    /// (its buffer only grows when needed). Throws <see cref="ImageDecodeException"/> for corrupt, truncated or
    /// unsupported data, with TurboJPEG's own message.
    /// </summary>
    public void Decode(ReadOnlySpan<byte> jpeg, RgbImage destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var (w, h) = ReadSize(jpeg);
        if (w <= 0 || h <= 0)
        {
            // TurboJPEG 2.x accepts a header that ends before the frame header (libjpeg treats it as a
            // "tables-only" datastream) and reports 0x0: for a frame that means the data was cut short.
            throw new ImageDecodeException(ImageDecodeError.Truncated, PixelFormat.Jpeg,
                $"JPEG data ({jpeg.Length} bytes) ends before the frame header (SOF/SOS): the JPEG data is truncated");
        }
        if (w > MaxDimension || h > MaxDimension)
        {
            throw new ImageDecodeException(ImageDecodeError.Unsupported, PixelFormat.Jpeg,
                $"JPEG size {w}x{h} is outside the accepted range 1..{MaxDimension}");
        }
        destination.Resize(w, h);
        var handle = _handle.DangerousGetHandle();
        fixed (byte* src = jpeg)
        fixed (byte* dst = destination.Buffer)
        {
            var rc = _lib.Decompress2(handle, src, new CULong((nuint)jpeg.Length), dst, w, destination.Stride, h,
                TurboJpegLibrary.PixelFormatRgb, TurboJpegLibrary.FlagStopOnWarning);
            if (rc != 0)
            {
                throw Fail("could not decode the JPEG", handle);
            }
        }
        GC.KeepAlive(_handle);
    }

    /// <summary>Destroys the TurboJPEG handle.</summary>
    public void Dispose() => _handle.Dispose();

    private static void CheckMagic(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2 || data[0] != 0xFF || data[1] != 0xD8)
        {
            var hint = ImageSniffer.Detect(data) == PixelFormat.Png ? " (the data is a PNG)" : "";
            throw new ImageDecodeException(data.Length < 2 ? ImageDecodeError.Truncated : ImageDecodeError.Corrupt, PixelFormat.Jpeg,
                $"not a JPEG: data ({data.Length} bytes) does not start with the SOI marker FF D8{hint}");
        }
    }

    private ImageDecodeException Fail(string what, IntPtr handle)
    {
        var message = _lib.LastError(handle);
        var warning = _lib.GetErrorCode(handle) == TurboJpegLibrary.ErrorWarning;
        // libjpeg's wording for running out of input is the warning "Premature end of JPEG file"
        // (not "premature end of data segment", which is corrupt entropy data).
        var truncated = message.Contains("Premature end of JPEG file", StringComparison.OrdinalIgnoreCase)
            || message.Contains("empty input", StringComparison.OrdinalIgnoreCase);
        var unsupported = message.Contains("Unsupported", StringComparison.OrdinalIgnoreCase);
        var kind = truncated ? ImageDecodeError.Truncated : unsupported ? ImageDecodeError.Unsupported : ImageDecodeError.Corrupt;
        var detail = truncated ? " (the JPEG data is truncated)" : warning ? " (libjpeg warning treated as an error)" : "";
        return new ImageDecodeException(kind, PixelFormat.Jpeg, $"{what}: {message}{detail}");
    }
}
