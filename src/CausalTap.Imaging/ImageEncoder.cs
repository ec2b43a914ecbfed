using OpenCvSharp;

namespace CausalTap.Imaging;

/// <summary>JPEG and PNG encoding of an <see cref="RgbImage"/> with OpenCV's <c>imencode</c> (camera side, tests, tools).</summary>
public static class ImageEncoder
{
    /// <summary>JPEG bytes (baseline, 4:2:0) of <paramref name="image"/> at <paramref name="quality"/> (1..100).</summary>
    public static byte[] EncodeJpeg(RgbImage image, int quality = 90)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        return Encode(image, ".jpg", new ImageEncodingParam(ImwriteFlags.JpegQuality, quality));
    }

    /// <summary>PNG bytes of <paramref name="image"/>.</summary>
    public static byte[] EncodePng(RgbImage image) => Encode(image, ".png");

    private static byte[] Encode(RgbImage image, string extension, params ImageEncodingParam[] parameters)
    {
        ArgumentNullException.ThrowIfNull(image);
        OpenCvRuntime.EnsureLoaded();
        using var bgr = new Mat();
        Cv2.CvtColor(image.AsMat(), bgr, ColorConversionCodes.RGB2BGR);
        // imencode reports failure by throwing (OpenCvSharpException) or by an empty result.
        Cv2.ImEncode(extension, bgr, out byte[] bytes, parameters);
        if (bytes.Length == 0)
            throw new ImageDecodeException(ImageDecodeError.Unsupported, PixelFormat.Rgb8, $"OpenCV could not encode a {image.Width}x{image.Height} image as {extension}");
        return bytes;
    }
}
