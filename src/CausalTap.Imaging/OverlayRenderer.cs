using OpenCvSharp;

namespace CausalTap.Imaging;

/// <summary>One tracked point to draw, in source-image pixels (raster convention, see <see cref="CoordinateMapping"/>).</summary>
/// <param name="Id">stable point id; picks the colour and keys the trail.</param>
/// <param name="X">x in image pixels.</param>
/// <param name="Y">y in image pixels.</param>
/// <param name="Visible">false draws a hollow ring (occluded), true a filled disc.</param>
public readonly record struct OverlayPoint(int Id, float X, float Y, bool Visible);

/// <summary>
/// Draws tracked points on an <see cref="RgbImage"/> for debug/overlay video with OpenCV's drawing functions: a
/// filled disc for a visible point, a hollow ring for an occluded one, and a short trail of its last
/// <see cref="TrailLength"/> positions whose segments fade with age. Colours are stable per point id. Markers scale
/// with the frame (radius min(width, height) / 100, at least 4 px: 7 px on 1280x720) so they can be seen at full
/// size. Keeps per-id history between frames (call <see cref="Render"/> once per frame, in order); allocates only
/// when a new id appears.
/// </summary>
public sealed class OverlayRenderer
{
    /// <summary>OpenCV's fixed-point shift for sub-pixel centres and radii (4 bits: 1/16 px).</summary>
    private const int Shift = 4;
    private const float One = 1 << Shift;

    private readonly Dictionary<int, Trail> _trails = [];
    private int _frame;

    /// <summary>Disc/ring radius in pixels; null (default) scales it with the frame.</summary>
    public float? Radius { get; init; }

    /// <summary>Ring thickness in pixels for occluded points (default 2).</summary>
    public int RingThickness { get; init; } = 2;

    /// <summary>Positions kept per point for its trail, current one included (default 10; 0 or 1 = no trail).</summary>
    public int TrailLength { get; init; } = 10;

    /// <summary>The marker radius used on a <paramref name="width"/> x <paramref name="height"/> frame.</summary>
    public float RadiusFor(int width, int height) => Radius ?? Math.Max(4f, Math.Min(width, height) / 100f);

    /// <summary>Draws this frame's points (and their trails) and records their positions for later trails.</summary>
    public void Render(RgbImage image, ReadOnlySpan<OverlayPoint> points)
    {
        ArgumentNullException.ThrowIfNull(image);
        _frame++;
        foreach (var p in points)
        {
            if (!float.IsFinite(p.X) || !float.IsFinite(p.Y))
            {
                continue;
            }
            if (!_trails.TryGetValue(p.Id, out var trail))
            {
                trail = new Trail(Math.Max(1, TrailLength));
                _trails.Add(p.Id, trail);
            }
            trail.Push(p.X, p.Y, _frame);
        }

        Mat mat = image.AsMat();
        float radius = RadiusFor(image.Width, image.Height);
        int trailThickness = Math.Max(1, (int)MathF.Round(radius / 3));
        // Trails first, so discs and rings are drawn on top of every trail.
        foreach (var p in points)
        {
            if (TrailLength > 1 && _trails.TryGetValue(p.Id, out var trail))
            {
                DrawTrail(image, mat, trail, ColorFor(p.Id), trailThickness);
            }
        }
        foreach (var p in points)
        {
            if (!float.IsFinite(p.X) || !float.IsFinite(p.Y) || !Near(image, p.X, p.Y, radius))
            {
                continue;
            }
            Scalar color = ToScalar(ColorFor(p.Id));
            if (p.Visible)
            {
                Cv2.Circle(mat, Fixed(p.X, p.Y), (int)(radius * One), color, -1, LineTypes.Link8, Shift);
            }
            else
            {
                // OpenCV centres the stroke on the radius: keep the ring inside the marker's radius.
                float middle = Math.Max(0.5f, radius - RingThickness / 2f);
                Cv2.Circle(mat, Fixed(p.X, p.Y), (int)(middle * One), color, RingThickness, LineTypes.Link8, Shift);
            }
        }
    }

    /// <summary>Forgets all trails (for example when a new video starts).</summary>
    public void Reset()
    {
        _trails.Clear();
        _frame = 0;
    }

    /// <summary>
    /// A bright, stable colour for a point id: hue stepped by the golden ratio so that neighbouring ids differ
    /// clearly, full saturation and value.
    /// </summary>
    public static (byte R, byte G, byte B) ColorFor(int id)
    {
        var hue = ((uint)id * 0.61803398875) % 1.0 * 6.0;
        var sector = (int)hue;
        var f = hue - sector;
        byte up = (byte)Math.Round(255 * f), down = (byte)Math.Round(255 * (1 - f));
        return sector switch
        {
            0 => (255, up, 0),
            1 => (down, 255, 0),
            2 => (0, 255, up),
            3 => (0, down, 255),
            4 => (up, 0, 255),
            _ => (255, 0, down),
        };
    }

    private static void DrawTrail(RgbImage image, Mat mat, Trail trail, (byte R, byte G, byte B) color, int thickness)
    {
        // Oldest segment faintest: alpha rises linearly to 0.9 for the newest segment. OpenCV draws opaque lines,
        // so each segment's colour is blended with the pixel under its middle (backgrounds vary slowly over a segment).
        var n = trail.Count;
        for (var k = 1; k < n; k++)
        {
            var (ax, ay) = trail.Get(k - 1);
            var (bx, by) = trail.Get(k);
            if (MathF.Abs(bx - ax) + MathF.Abs(by - ay) > 2 * (image.Width + image.Height))
            {
                continue; // a wild jump; not worth drawing
            }
            var alpha = 0.9f * k / (n - 1);
            var under = PixelOrBlack(image, (ax + bx) / 2, (ay + by) / 2);
            var blended = ((byte)(under.R + alpha * (color.R - under.R) + 0.5f),
                (byte)(under.G + alpha * (color.G - under.G) + 0.5f),
                (byte)(under.B + alpha * (color.B - under.B) + 0.5f));
            Cv2.Line(mat, Fixed(ax, ay), Fixed(bx, by), ToScalar(blended), thickness, LineTypes.Link8, Shift);
        }
    }

    /// <summary>Raster coordinates (pixel centres at +0.5) to OpenCV's fixed-point pixel-centre coordinates.</summary>
    private static Point Fixed(float x, float y) => new((int)MathF.Round((x - 0.5f) * One), (int)MathF.Round((y - 0.5f) * One));

    /// <summary>Whether a marker at (x, y) can touch the image (and its fixed-point centre fits in an int).</summary>
    private static bool Near(RgbImage image, float x, float y, float radius) =>
        x > -radius && y > -radius && x < image.Width + radius && y < image.Height + radius;

    private static Scalar ToScalar((byte R, byte G, byte B) c) => new(c.R, c.G, c.B); // the image is RGB

    private static (byte R, byte G, byte B) PixelOrBlack(RgbImage image, float x, float y)
    {
        int px = (int)MathF.Floor(x), py = (int)MathF.Floor(y);
        return (uint)px < (uint)image.Width && (uint)py < (uint)image.Height ? image.GetPixel(px, py) : ((byte)0, (byte)0, (byte)0);
    }

    /// <summary>Ring buffer of a point's recent positions; a gap in frames restarts the trail.</summary>
    private sealed class Trail(int capacity)
    {
        private readonly float[] _x = new float[capacity];
        private readonly float[] _y = new float[capacity];
        private int _start;
        private int _lastFrame = -1;

        public int Count { get; private set; }

        public void Push(float x, float y, int frame)
        {
            if (_lastFrame >= 0 && frame != _lastFrame + 1)
            {
                Count = 0; // the point was missing for a while: don't connect across the gap
                _start = 0;
            }
            _lastFrame = frame;
            var index = (_start + Count) % _x.Length;
            _x[index] = x;
            _y[index] = y;
            if (Count < _x.Length)
            {
                Count++;
            }
            else
            {
                _start = (_start + 1) % _x.Length;
            }
        }

        /// <summary>k-th kept position, oldest first.</summary>
        public (float X, float Y) Get(int k)
        {
            var i = (_start + k) % _x.Length;
            return (_x[i], _y[i]);
        }
    }
}
