namespace CausalTap.Imaging.Video;

/// <summary>
/// A test camera with no file or device: a textured pattern (smooth waves over a checkerboard) that moves 3 px right
/// and 2 px down per frame, so a tracker has something to follow. Named <c>synthetic:WxH</c> (default 640x480),
/// endless, 30 fps.
/// </summary>
public sealed class SyntheticFrameSource : IFrameSource
{
    /// <summary>The prefix that names this source.</summary>
    public const string Prefix = "synthetic";

    /// <summary>A <paramref name="width"/> x <paramref name="height"/> pattern.</summary>
    public SyntheticFrameSource(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        Width = width;
        Height = height;
    }

    /// <summary>Parses <c>synthetic</c> or <c>synthetic:WxH</c>; null when <paramref name="name"/> is not one.</summary>
    /// <exception cref="VideoIOException">a malformed size.</exception>
    public static SyntheticFrameSource? TryParse(string name)
    {
        if (name == Prefix) return new SyntheticFrameSource(640, 480);
        if (!name.StartsWith(Prefix + ":", StringComparison.Ordinal)) return null;
        string[] size = name[(Prefix.Length + 1)..].Split('x');
        if (size.Length == 2 && int.TryParse(size[0], out int w) && int.TryParse(size[1], out int h) && w is > 0 and <= 8192 && h is > 0 and <= 8192)
            return new SyntheticFrameSource(w, h);
        throw new VideoIOException($"'{name}': write the synthetic source as synthetic:WIDTHxHEIGHT, e.g. synthetic:640x480");
    }

    /// <inheritdoc/>
    public int Width { get; }

    /// <inheritdoc/>
    public int Height { get; }

    /// <inheritdoc/>
    public double FramesPerSecond => 30;

    /// <inheritdoc/>
    public int? FrameCount => null;

    /// <inheritdoc/>
    public int FramesRead { get; private set; }

    /// <inheritdoc/>
    public bool TryReadFrame(RgbImage destination)
    {
        Render(destination, Width, Height, FramesRead++);
        return true;
    }

    /// <summary>Frame <paramref name="t"/> of the pattern at the given size.</summary>
    public static void Render(RgbImage image, int width, int height, int t)
    {
        ArgumentNullException.ThrowIfNull(image);
        image.Resize(width, height);
        for (int y = 0; y < height; y++)
        {
            Span<byte> row = image.Row(y);
            double v = y - 2.0 * t;
            for (int x = 0; x < width; x++)
            {
                double u = x - 3.0 * t;
                double a = Math.Sin(u * 0.11) * Math.Cos(v * 0.07) + 0.5 * Math.Sin((u + v) * 0.031);
                double b = Math.Sin(u * 0.023 + v * 0.041) + 0.3 * Math.Cos(u * 0.19 - v * 0.13);
                int cell = ((int)Math.Floor(u / 24) + (int)Math.Floor(v / 24)) & 1;
                row[3 * x] = (byte)Math.Clamp(128 + 70 * a + 30 * cell, 0, 255);
                row[3 * x + 1] = (byte)Math.Clamp(128 + 80 * b, 0, 255);
                row[3 * x + 2] = (byte)Math.Clamp(128 + 60 * (a - b) - 30 * cell, 0, 255);
            }
        }
    }

    /// <summary>Nothing to release.</summary>
    public void Dispose()
    {
    }
}
