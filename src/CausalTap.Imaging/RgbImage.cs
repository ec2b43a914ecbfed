using System.Buffers;
using System.Runtime.InteropServices;
using OpenCvSharp;

namespace CausalTap.Imaging;

/// <summary>
/// An 8-bit interleaved RGB image (R, G, B per pixel, rows top to bottom) over a reusable byte buffer.
/// <para>
/// Decoders write into an existing <see cref="RgbImage"/> through <see cref="Resize"/>, which only grows the
/// buffer when the new size does not fit; so a stream of equally sized frames reuses one buffer and the hot
/// path allocates nothing once warm. The buffer is rented from <see cref="ArrayPool{T}.Shared"/> and given back
/// by <see cref="Dispose"/>, or is a caller-provided array that is never returned to any pool.
/// </para>
/// Not thread-safe: one image belongs to one stream at a time.
/// </summary>
public sealed class RgbImage : IDisposable
{
    private byte[] _buffer;
    private bool _pooled;
    /// <summary>An OpenCV header over the pinned buffer (CV_8UC3, this size and stride), made on first use.</summary>
    private Mat? _mat;
    private GCHandle _pin;

    /// <summary>An empty image (0x0) that grows on first use.</summary>
    public RgbImage()
    {
        _buffer = [];
        _pooled = false;
    }

    /// <summary>A zeroed image of the given size with a packed stride (width * 3), backed by a pooled buffer.</summary>
    public RgbImage(int width, int height) : this()
    {
        Resize(width, height);
        Pixels.Clear();
    }

    /// <summary>
    /// Wraps a caller-owned buffer (never returned to a pool). <paramref name="stride"/> = 0 means width * 3.
    /// </summary>
    public RgbImage(byte[] buffer, int width, int height, int stride = 0)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        CheckSize(width, height);
        if (stride == 0)
        {
            stride = width * 3;
        }
        if (stride < width * 3)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), $"stride {stride} is less than width*3 = {width * 3}");
        }
        if (height > 0 && buffer.Length < (long)stride * (height - 1) + width * 3)
        {
            throw new ArgumentException($"buffer of {buffer.Length} bytes is too small for {width}x{height} RGB with stride {stride}", nameof(buffer));
        }
        _buffer = buffer;
        _pooled = false;
        Width = width;
        Height = height;
        Stride = stride;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; private set; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; private set; }

    /// <summary>Bytes from the start of one row to the start of the next (at least <c>Width * 3</c>).</summary>
    public int Stride { get; private set; }

    /// <summary>The backing array (may be longer than the image). Useful for pinning or stream writes.</summary>
    public byte[] Buffer => _buffer;

    /// <summary>Capacity of the backing buffer in bytes.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>The image bytes: <c>Stride * (Height - 1) + Width * 3</c> bytes from the start of the buffer.</summary>
    public Span<byte> Pixels => _buffer.AsSpan(0, ByteLength);

    /// <summary>Number of bytes covered by <see cref="Pixels"/>.</summary>
    public int ByteLength => Height == 0 ? 0 : Stride * (Height - 1) + Width * 3;

    /// <summary>Row <paramref name="y"/> (exactly <c>Width * 3</c> bytes).</summary>
    public Span<byte> Row(int y)
    {
        if ((uint)y >= (uint)Height)
        {
            throw new ArgumentOutOfRangeException(nameof(y), $"row {y} is outside 0..{Height - 1}");
        }
        return _buffer.AsSpan(y * Stride, Width * 3);
    }

    /// <summary>
    /// Sets the size to <paramref name="width"/> x <paramref name="height"/> with a packed stride (width * 3).
    /// Grows the buffer (renting a new one from the pool) only when the size does not fit; contents are not
    /// preserved across a size change and are not cleared.
    /// </summary>
    public void Resize(int width, int height)
    {
        CheckSize(width, height);
        var stride = width * 3;
        var needed = (long)stride * height;
        if (needed > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"{width}x{height} RGB does not fit in one buffer");
        }
        if (needed > _buffer.Length)
        {
            var old = _buffer;
            var wasPooled = _pooled;
            _buffer = ArrayPool<byte>.Shared.Rent((int)needed);
            _pooled = true;
            if (wasPooled)
            {
                ArrayPool<byte>.Shared.Return(old);
            }
        }
        Width = width;
        Height = height;
        Stride = stride;
    }

    /// <summary>
    /// The pixels as an OpenCV <see cref="Mat"/> (CV_8UC3, RGB order) that shares this image's buffer, so OpenCV
    /// reads and writes them in place. The header is kept (and the buffer pinned) until the size or buffer changes,
    /// so a stream of equally sized frames makes it once. Do not dispose it.
    /// </summary>
    public Mat AsMat()
    {
        if (Width == 0 || Height == 0) throw new InvalidOperationException("the image is empty (0x0)");
        if (_mat is { } mat && _pin.IsAllocated && ReferenceEquals(_pin.Target, _buffer) && mat.Cols == Width && mat.Rows == Height
            && mat.Step() == Stride)
        {
            return mat;
        }
        ReleaseMat();
        _pin = GCHandle.Alloc(_buffer, GCHandleType.Pinned);
        _mat = Mat.FromPixelData(Height, Width, MatType.CV_8UC3, _pin.AddrOfPinnedObject(), Stride);
        return _mat;
    }

    private void ReleaseMat()
    {
        _mat?.Dispose();
        _mat = null;
        if (_pin.IsAllocated) _pin.Free();
    }

    /// <summary>
    /// Scales this image into <paramref name="destination"/> at <paramref name="width"/> x <paramref name="height"/>
    /// with OpenCV's area interpolation (the antialiased downscale; bilinear when enlarging).
    /// </summary>
    public void ScaleTo(RgbImage destination, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (ReferenceEquals(destination, this)) throw new ArgumentException("scale into another image", nameof(destination));
        destination.Resize(width, height);
        Cv2.Resize(AsMat(), destination.AsMat(), new Size(width, height), 0, 0, InterpolationFlags.Area);
    }

    /// <summary>Copies this image into <paramref name="destination"/> (resized to match).</summary>
    public void CopyTo(RgbImage destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        destination.Resize(Width, Height);
        for (var y = 0; y < Height; y++)
        {
            Row(y).CopyTo(destination.Row(y));
        }
    }

    /// <summary>Reads pixel (x, y) as (R, G, B). For tests and tools; not for inner loops.</summary>
    public (byte R, byte G, byte B) GetPixel(int x, int y)
    {
        if ((uint)x >= (uint)Width)
        {
            throw new ArgumentOutOfRangeException(nameof(x));
        }
        var row = Row(y);
        return (row[x * 3], row[x * 3 + 1], row[x * 3 + 2]);
    }

    /// <summary>Returns a pooled buffer to the pool; the image becomes 0x0 and may be reused.</summary>
    public void Dispose()
    {
        ReleaseMat();
        if (_pooled)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
        _buffer = [];
        _pooled = false;
        Width = Height = Stride = 0;
    }

    private static void CheckSize(int width, int height)
    {
        if (width < 0 || height < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} is negative");
        }
    }
}
