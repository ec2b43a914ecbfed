using System.Numerics;

namespace CausalTap.Imaging;

/// <summary>
/// Turns an RGB8 image of any size into the model's input tensor: float32, CHW layout <c>[3, H, W]</c>
/// (planes R, G, B), values in [-1, 1], written into a caller-provided span (no allocation once warm).
/// <para>
/// <b>Resize.</b> Bilinear with half-pixel centres and clamp-to-edge, the convention of OpenCV's
/// <c>cv2.resize(..., interpolation=INTER_LINEAR)</c> and of PyTorch's <c>interpolate(mode="bilinear",
/// align_corners=False, antialias=False)</c>: output pixel <c>dx</c> samples source position
/// <c>sx = (dx + 0.5) * W_src / W_model - 0.5</c>, clamped to [0, W_src - 1] (same for y). No antialiasing: for
/// downscales by more than 2x each output pixel still reads only a 2x2 neighbourhood, exactly like OpenCV
/// (aliasing included), which keeps the server's input identical to what the Python training pipeline sees.
/// Interpolation is done in float32 and <i>not</i> rounded back to 8 bits, so values differ from
/// <c>cv2.resize</c> on uint8 (fixed-point weights, rounded result) by at most about one 8-bit step
/// (1/127.5 after normalisation).
/// </para>
/// <para>
/// <b>Normalisation.</b> <c>v = p / 127.5 - 1</c> for an 8-bit value <c>p</c>, so 0 maps to -1 and 255 to +1.
/// </para>
/// <para>
/// <b>How.</b> Separable: each needed source row is resampled horizontally into a planar float row (scalar
/// gather, cached so consecutive output rows share source rows), then the vertical blend + normalisation is a
/// vectorised pass writing straight into the three output planes. Index/weight tables are rebuilt only when the
/// source size changes. One writer per stream; not thread-safe.
/// </para>
/// </summary>
public sealed class ModelInputWriter
{
    private const float Scale = 1f / 127.5f;

    private readonly int _width;
    private readonly int _height;
    private readonly int[] _x0;   // byte offset of the left source pixel of each output column
    private readonly int[] _x1;   // byte offset of the right source pixel
    private readonly float[] _ax; // weight of the right pixel
    private readonly int[] _y0;
    private readonly int[] _y1;
    private readonly float[] _ay;
    private readonly float[] _rowA; // horizontally resampled source row, planar [3][W]
    private readonly float[] _rowB;
    private int _tableSrcWidth = -1;
    private int _tableSrcHeight = -1;

    /// <summary>A writer for a model input of <paramref name="width"/> x <paramref name="height"/> pixels.</summary>
    public ModelInputWriter(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        _width = width;
        _height = height;
        _x0 = new int[width];
        _x1 = new int[width];
        _ax = new float[width];
        _y0 = new int[height];
        _y1 = new int[height];
        _ay = new float[height];
        _rowA = new float[3 * width];
        _rowB = new float[3 * width];
    }

    /// <summary>Model input width W.</summary>
    public int Width => _width;

    /// <summary>Model input height H.</summary>
    public int Height => _height;

    /// <summary>Number of floats written: 3 * H * W.</summary>
    public int TensorLength => 3 * _width * _height;

    /// <summary>Resizes and normalises <paramref name="image"/> into <paramref name="destination"/> (length ≥ <see cref="TensorLength"/>).</summary>
    public void Write(RgbImage image, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        Write(image.Pixels, image.Width, image.Height, image.Stride, destination);
    }

    /// <summary>Same as <see cref="Write(RgbImage, Span{float})"/> for raw RGB8 rows with the given stride.</summary>
    public void Write(ReadOnlySpan<byte> rgb, int srcWidth, int srcHeight, int srcStride, Span<float> destination)
    {
        if (srcWidth <= 0 || srcHeight <= 0)
        {
            throw new ArgumentException($"source image size {srcWidth}x{srcHeight} must be positive");
        }
        if (srcStride < srcWidth * 3 || rgb.Length < (long)srcStride * (srcHeight - 1) + srcWidth * 3)
        {
            throw new ArgumentException($"source buffer ({rgb.Length} bytes, stride {srcStride}) does not hold {srcWidth}x{srcHeight} RGB8");
        }
        if (destination.Length < TensorLength)
        {
            throw new ArgumentException($"destination holds {destination.Length} floats, need 3*{_height}*{_width} = {TensorLength}", nameof(destination));
        }
        if (srcWidth != _tableSrcWidth || srcHeight != _tableSrcHeight)
        {
            BuildTable(srcWidth, _width, _x0, _x1, _ax, bytesPerStep: 3);
            BuildTable(srcHeight, _height, _y0, _y1, _ay, bytesPerStep: 1);
            _tableSrcWidth = srcWidth;
            _tableSrcHeight = srcHeight;
        }

        var plane = _width * _height;
        var rowA = _rowA;
        var rowB = _rowB;
        int tagA = -1, tagB = -1; // which source row each buffer currently holds
        for (var y = 0; y < _height; y++)
        {
            int sy0 = _y0[y], sy1 = _y1[y];
            // Reuse cached rows: usually the new top row is the previous bottom row.
            if (tagA != sy0)
            {
                if (tagB == sy0)
                {
                    (rowA, rowB) = (rowB, rowA);
                    (tagA, tagB) = (tagB, tagA);
                }
                else
                {
                    ResampleRow(rgb.Slice(sy0 * srcStride, srcWidth * 3), rowA);
                    tagA = sy0;
                }
            }
            if (tagB != sy1)
            {
                ResampleRow(rgb.Slice(sy1 * srcStride, srcWidth * 3), rowB);
                tagB = sy1;
            }
            var wy = _ay[y];
            for (var c = 0; c < 3; c++)
            {
                BlendRow(rowA.AsSpan(c * _width, _width), rowB.AsSpan(c * _width, _width), wy,
                    destination.Slice(c * plane + y * _width, _width));
            }
        }
    }

    /// <summary>
    /// Builds the OpenCV INTER_LINEAR tables: for each output index, the two source indices (pre-multiplied
    /// by <paramref name="bytesPerStep"/>) and the weight of the second one.
    /// </summary>
    private static void BuildTable(int srcSize, int dstSize, int[] i0, int[] i1, float[] weight, int bytesPerStep)
    {
        var scale = (double)srcSize / dstSize;
        for (var d = 0; d < dstSize; d++)
        {
            var f = (d + 0.5) * scale - 0.5;
            var s = (int)Math.Floor(f);
            var a = f - s;
            if (s < 0)
            {
                s = 0;
                a = 0;
            }
            if (s >= srcSize - 1)
            {
                s = srcSize - 1;
                a = 0;
            }
            i0[d] = s * bytesPerStep;
            i1[d] = Math.Min(s + 1, srcSize - 1) * bytesPerStep;
            weight[d] = (float)a;
        }
    }

    /// <summary>Horizontal pass: one interleaved RGB8 source row -> planar float [R row][G row][B row] at model width.</summary>
    private unsafe void ResampleRow(ReadOnlySpan<byte> src, float[] dst)
    {
        // A gather per output pixel does not vectorise well; pointers drop the bounds checks, which are most
        // of the cost here. Offsets come from BuildTable and are always inside the row.
        var w = _width;
        fixed (byte* s = src)
        fixed (float* d = dst)
        fixed (int* x0 = _x0, x1 = _x1)
        fixed (float* ax = _ax)
        {
            float* dr = d, dg = d + w, db = d + 2 * w;
            for (var x = 0; x < w; x++)
            {
                byte* p0 = s + x0[x];
                byte* p1 = s + x1[x];
                var a = ax[x];
                float r0 = p0[0], g0 = p0[1], b0 = p0[2];
                dr[x] = r0 + a * (p1[0] - r0);
                dg[x] = g0 + a * (p1[1] - g0);
                db[x] = b0 + a * (p1[2] - b0);
            }
        }
    }

    /// <summary>Vertical pass + normalisation: out = (top + wy * (bottom - top)) / 127.5 - 1, vectorised.</summary>
    private static void BlendRow(ReadOnlySpan<float> top, ReadOnlySpan<float> bottom, float wy, Span<float> output)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && output.Length >= Vector<float>.Count)
        {
            var vw = new Vector<float>(wy);
            var vs = new Vector<float>(Scale);
            var one = Vector<float>.One;
            for (; i + Vector<float>.Count <= output.Length; i += Vector<float>.Count)
            {
                var t = new Vector<float>(top[i..]);
                var b = new Vector<float>(bottom[i..]);
                var v = Vector.FusedMultiplyAdd(vw, b - t, t);
                Vector.FusedMultiplyAdd(v, vs, -one).CopyTo(output[i..]);
            }
        }
        for (; i < output.Length; i++)
        {
            var v = top[i] + wy * (bottom[i] - top[i]);
            output[i] = v * Scale - 1f;
        }
    }
}
