namespace CausalTap.Imaging;

/// <summary>
/// Converts raw RGB8 / BGR8 / GRAY8 pixels (rows top to bottom, any row stride) into an <see cref="RgbImage"/>.
/// Validates the caller's layout first so that a wrong width, stride or buffer length is a clear
/// <see cref="ImageDecodeException"/> (<see cref="ImageDecodeError.InvalidLayout"/>), never a silent smear.
/// Allocation-free.
/// </summary>
public static class RawPixelConverter
{
    /// <summary>
    /// Checks that <paramref name="dataLength"/> bytes can hold a <paramref name="width"/> x <paramref name="height"/>
    /// image of <paramref name="format"/> with <paramref name="stride"/> (0 = packed) and returns the effective stride.
    /// The last row need not be padded: the minimum length is <c>stride * (height - 1) + width * channels</c>.
    /// </summary>
    public static int Validate(PixelFormat format, int dataLength, int width, int height, int stride)
    {
        var channels = format.BytesPerPixel();
        if (channels == 0)
        {
            throw new ImageDecodeException(ImageDecodeError.InvalidLayout, format, $"{format} is not a raw pixel format (expected Rgb8, Bgr8 or Gray8)");
        }
        if (width <= 0 || height <= 0)
        {
            throw new ImageDecodeException(ImageDecodeError.InvalidLayout, format, $"raw {format} frame needs a positive width and height, got {width}x{height}");
        }
        var rowBytes = (long)width * channels;
        if (stride == 0)
        {
            stride = (int)Math.Min(rowBytes, int.MaxValue);
        }
        if (stride < rowBytes)
        {
            throw new ImageDecodeException(ImageDecodeError.InvalidLayout, format,
                $"raw {format} stride {stride} is less than width * {channels} = {rowBytes} bytes");
        }
        var needed = (long)stride * (height - 1) + rowBytes;
        if (dataLength < needed)
        {
            throw new ImageDecodeException(ImageDecodeError.InvalidLayout, format,
                $"raw {format} frame {width}x{height} with stride {stride} needs at least {needed} bytes, got {dataLength}");
        }
        return stride;
    }

    /// <summary>Converts raw pixels into <paramref name="destination"/> (resized to width x height).</summary>
    public static void Convert(ReadOnlySpan<byte> data, PixelFormat format, int width, int height, int stride, RgbImage destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        stride = Validate(format, data.Length, width, height, stride);
        destination.Resize(width, height);
        for (var y = 0; y < height; y++)
        {
            var src = data.Slice(y * stride, width * format.BytesPerPixel());
            var dst = destination.Row(y);
            switch (format)
            {
                case PixelFormat.Rgb8:
                    src.CopyTo(dst);
                    break;
                case PixelFormat.Bgr8:
                    SwapRedBlue(src, dst);
                    break;
                default:
                    GrayToRgb(src, dst);
                    break;
            }
        }
    }

    private static void SwapRedBlue(ReadOnlySpan<byte> bgr, Span<byte> rgb)
    {
        // Plain loop: the JIT keeps it bounds-check-light and it runs at memory speed for camera sizes.
        for (var i = 0; i + 2 < bgr.Length; i += 3)
        {
            var b = bgr[i];
            rgb[i + 1] = bgr[i + 1];
            rgb[i] = bgr[i + 2];
            rgb[i + 2] = b;
        }
    }

    private static void GrayToRgb(ReadOnlySpan<byte> gray, Span<byte> rgb)
    {
        for (int x = 0, d = 0; x < gray.Length; x++, d += 3)
        {
            var g = gray[x];
            rgb[d] = g;
            rgb[d + 1] = g;
            rgb[d + 2] = g;
        }
    }
}
