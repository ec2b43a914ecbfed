namespace CausalTap.Imaging;

/// <summary>Tells encoded formats apart by their magic bytes.</summary>
public static class ImageSniffer
{
    /// <summary>The 8-byte PNG signature.</summary>
    internal static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>
    /// <see cref="PixelFormat.Jpeg"/> for data starting with FF D8 FF, <see cref="PixelFormat.Png"/> for the PNG
    /// signature, otherwise <see cref="PixelFormat.Unspecified"/>.
    /// </summary>
    public static PixelFormat Detect(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        {
            return PixelFormat.Jpeg;
        }
        if (data.StartsWith(PngSignature))
        {
            return PixelFormat.Png;
        }
        return PixelFormat.Unspecified;
    }
}
