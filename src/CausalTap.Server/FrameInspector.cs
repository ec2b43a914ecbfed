using System.Buffers.Binary;
using CausalTap.Imaging;
using CausalTap.Protocol.V1;
using ImagingFormat = CausalTap.Imaging.PixelFormat;
using WireFormat = CausalTap.Protocol.V1.PixelFormat;

namespace CausalTap.Server;

/// <summary>What ingest learned about a frame without decoding it.</summary>
internal readonly record struct FrameShape(ImagingFormat Format, int Width, int Height, int Stride);

/// <summary>
/// The cheap checks done at ingest, before a frame is queued: which format (magic bytes), its size (from the JPEG
/// SOF or PNG IHDR header, or the raw fields) and the raw layout. Full decoding happens later in the engine loop;
/// a frame that passes here can still turn out corrupt there. Stateless and thread-safe.
/// </summary>
internal static class FrameInspector
{
    /// <summary>Returns the frame's format and size or throws <see cref="RejectionException"/> (INVALID_ARGUMENT).</summary>
    public static FrameShape Inspect(Frame frame, int maxWidth, int maxHeight)
    {
        FrameShape shape = frame.ImageCase switch
        {
            Frame.ImageOneofCase.Encoded => InspectEncoded(frame.Encoded),
            Frame.ImageOneofCase.Raw => InspectRaw(frame.Raw),
            _ => throw Invalid("frame has no image: set `encoded` (JPEG/PNG bytes) or `raw` (pixels)"),
        };
        if (shape.Width > maxWidth || shape.Height > maxHeight)
            throw Invalid($"frame is {shape.Width}x{shape.Height}, larger than this server's limit {maxWidth}x{maxHeight}");
        return shape;
    }

    private static FrameShape InspectEncoded(EncodedImage image)
    {
        ReadOnlySpan<byte> data = image.Data.Span;
        if (data.IsEmpty) throw Invalid("encoded frame has no data");
        ImagingFormat sniffed = ImageSniffer.Detect(data);
        string declared = image.Format.Trim().ToLowerInvariant();
        ImagingFormat expected = declared switch
        {
            "" => sniffed,
            "jpeg" or "jpg" => ImagingFormat.Jpeg,
            "png" => ImagingFormat.Png,
            _ => throw Invalid($"encoded format '{image.Format}' is not supported (use \"jpeg\", \"png\" or empty to detect)"),
        };
        if (sniffed == ImagingFormat.Unspecified)
        {
            string head = Convert.ToHexString(data[..Math.Min(8, data.Length)]);
            throw Invalid($"corrupt image: {data.Length} bytes starting {head} are neither JPEG (FF D8 FF) nor PNG (89 50 4E 47 ...)");
        }
        if (sniffed != expected)
            throw Invalid($"corrupt image: declared format '{image.Format}' but the bytes are {sniffed}");
        (int w, int h) = sniffed == ImagingFormat.Jpeg ? JpegSize(data) : PngSize(data);
        return new FrameShape(sniffed, w, h, 0);
    }

    private static FrameShape InspectRaw(RawImage raw)
    {
        ImagingFormat format = raw.PixelFormat switch
        {
            WireFormat.Rgb8 => ImagingFormat.Rgb8,
            WireFormat.Bgr8 => ImagingFormat.Bgr8,
            WireFormat.Gray8 => ImagingFormat.Gray8,
            _ => throw Invalid("raw frame needs pixel_format RGB8, BGR8 or GRAY8"),
        };
        if (raw.Width > int.MaxValue || raw.Height > int.MaxValue || raw.Stride > int.MaxValue)
            throw Invalid($"raw frame size {raw.Width}x{raw.Height} (stride {raw.Stride}) is out of range");
        try
        {
            int stride = RawPixelConverter.Validate(format, raw.Data.Length, (int)raw.Width, (int)raw.Height, (int)raw.Stride);
            return new FrameShape(format, (int)raw.Width, (int)raw.Height, stride);
        }
        catch (ImageDecodeException ex)
        {
            throw Invalid(ex.Message);
        }
    }

    /// <summary>Width and height from the first SOFn marker of a JPEG.</summary>
    private static (int Width, int Height) JpegSize(ReadOnlySpan<byte> data)
    {
        int i = 2; // after FF D8
        while (i + 4 <= data.Length)
        {
            if (data[i] != 0xFF) throw Invalid($"corrupt JPEG: expected a marker at byte {i}");
            byte marker = data[i + 1];
            if (marker == 0xFF) { i++; continue; } // fill byte
            if (marker is 0x01 or (>= 0xD0 and <= 0xD8)) { i += 2; continue; } // markers without a length
            if (marker is 0xD9 or 0xDA) break; // end of image / start of scan before any frame header
            int length = BinaryPrimitives.ReadUInt16BigEndian(data[(i + 2)..]);
            if (length < 2 || i + 2 + length > data.Length) break;
            bool startOfFrame = marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC;
            if (startOfFrame)
            {
                if (length < 7) break;
                int height = BinaryPrimitives.ReadUInt16BigEndian(data[(i + 5)..]);
                int width = BinaryPrimitives.ReadUInt16BigEndian(data[(i + 7)..]);
                if (width == 0 || height == 0) throw Invalid($"corrupt JPEG: frame header says {width}x{height}");
                return (width, height);
            }
            i += 2 + length;
        }
        throw Invalid($"corrupt JPEG: no frame header (SOF) in {data.Length} bytes");
    }

    /// <summary>Width and height from a PNG's IHDR chunk (it must come first).</summary>
    private static (int Width, int Height) PngSize(ReadOnlySpan<byte> data)
    {
        if (data.Length < 24 || !data.Slice(12, 4).SequenceEqual("IHDR"u8))
            throw Invalid($"corrupt PNG: no IHDR chunk at the start ({data.Length} bytes)");
        uint width = BinaryPrimitives.ReadUInt32BigEndian(data[16..]);
        uint height = BinaryPrimitives.ReadUInt32BigEndian(data[20..]);
        if (width == 0 || height == 0 || width > int.MaxValue || height > int.MaxValue)
            throw Invalid($"corrupt PNG: header says {width}x{height}");
        return ((int)width, (int)height);
    }

    private static RejectionException Invalid(string message) => new(RejectionKind.InvalidArgument, message);
}
