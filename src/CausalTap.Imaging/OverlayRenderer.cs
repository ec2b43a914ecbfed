namespace CausalTap.Imaging;

/// <summary>One tracked point to draw, in source-image pixels (raster convention, see <see cref="CoordinateMapping"/>).</summary>
/// <param name="Id">stable point id; picks the colour and keys the trail.</param>
/// <param name="X">x in image pixels.</param>
/// <param name="Y">y in image pixels.</param>
/// <param name="Visible">false draws a hollow ring (occluded), true a filled disc.</param>
public readonly record struct OverlayPoint(int Id, float X, float Y, bool Visible);

/// <summary>
/// Draws tracked points on an <see cref="RgbImage"/> for debug/overlay video: a filled disc for a visible
/// point, a hollow ring for an occluded one, and a short trail of its last <see cref="TrailLength"/> positions
/// as line segments that fade out with age. Colours are stable per point id. No anti-aliasing: a pixel is
/// painted when its centre lies inside the shape. Keeps per-id history between frames (call
/// <see cref="Render"/> once per frame, in order); allocates only when a new id appears.
/// </summary>
public sealed class OverlayRenderer
{
    private readonly Dictionary<int, Trail> _trails = [];
    private int _frame;

    /// <summary>Disc/ring radius in pixels (default 4).</summary>
    public float Radius { get; init; } = 4f;

    /// <summary>Ring thickness in pixels for occluded points (default 1.5).</summary>
    public float RingThickness { get; init; } = 1.5f;

    /// <summary>Positions kept per point for its trail, current one included (default 10; 0 or 1 = no trail).</summary>
    public int TrailLength { get; init; } = 10;

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

        // Trails first, so discs and rings are drawn on top of every trail.
        foreach (var p in points)
        {
            if (TrailLength > 1 && _trails.TryGetValue(p.Id, out var trail))
            {
                DrawTrail(image, trail, ColorFor(p.Id));
            }
        }
        foreach (var p in points)
        {
            if (!float.IsFinite(p.X) || !float.IsFinite(p.Y))
            {
                continue;
            }
            var color = ColorFor(p.Id);
            if (p.Visible)
            {
                FillCircle(image, p.X, p.Y, Radius, color);
            }
            else
            {
                DrawRing(image, p.X, p.Y, Radius, RingThickness, color);
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

    /// <summary>Paints every pixel whose centre is within <paramref name="radius"/> of (cx, cy).</summary>
    public static void FillCircle(RgbImage image, float cx, float cy, float radius, (byte R, byte G, byte B) color) =>
        PaintAnnulus(image, cx, cy, -1f, radius, color, 1f);

    /// <summary>Paints the pixels whose centre is between radius - thickness and radius of (cx, cy); the middle is left alone.</summary>
    public static void DrawRing(RgbImage image, float cx, float cy, float radius, float thickness, (byte R, byte G, byte B) color) =>
        PaintAnnulus(image, cx, cy, Math.Max(0f, radius - thickness), radius, color, 1f);

    /// <summary>Draws a 1-pixel line from (x0, y0) to (x1, y1), blended with <paramref name="alpha"/> (0..1).</summary>
    public static void DrawLine(RgbImage image, float x0, float y0, float x1, float y1, (byte R, byte G, byte B) color, float alpha)
    {
        ArgumentNullException.ThrowIfNull(image);
        // Walk pixel centres along the major axis (DDA); coordinates are raster, so pixel = floor(coordinate).
        var dx = x1 - x0;
        var dy = y1 - y0;
        var steps = (int)MathF.Ceiling(MathF.Max(MathF.Abs(dx), MathF.Abs(dy)));
        if (steps > 4 * (image.Width + image.Height))
        {
            return; // a wild jump; not worth drawing
        }
        for (var i = 0; i <= steps; i++)
        {
            var t = steps == 0 ? 0f : (float)i / steps;
            Blend(image, (int)MathF.Floor(x0 + t * dx), (int)MathF.Floor(y0 + t * dy), color, alpha);
        }
    }

    private static void DrawTrail(RgbImage image, Trail trail, (byte R, byte G, byte B) color)
    {
        // Oldest segment faintest: alpha rises linearly to 0.9 for the newest segment.
        var n = trail.Count;
        for (var k = 1; k < n; k++)
        {
            var (ax, ay) = trail.Get(k - 1);
            var (bx, by) = trail.Get(k);
            var alpha = 0.9f * k / (n - 1);
            DrawLine(image, ax, ay, bx, by, color, alpha);
        }
    }

    private static void PaintAnnulus(RgbImage image, float cx, float cy, float inner, float outer, (byte R, byte G, byte B) color, float alpha)
    {
        ArgumentNullException.ThrowIfNull(image);
        var xMin = Math.Max(0, (int)MathF.Floor(cx - outer));
        var xMax = Math.Min(image.Width - 1, (int)MathF.Ceiling(cx + outer));
        var yMin = Math.Max(0, (int)MathF.Floor(cy - outer));
        var yMax = Math.Min(image.Height - 1, (int)MathF.Ceiling(cy + outer));
        float outer2 = outer * outer, inner2 = inner < 0 ? -1f : inner * inner;
        for (var y = yMin; y <= yMax; y++)
        {
            var py = y + 0.5f - cy;
            for (var x = xMin; x <= xMax; x++)
            {
                var px = x + 0.5f - cx;
                var d2 = px * px + py * py;
                if (d2 <= outer2 && d2 > inner2)
                {
                    Blend(image, x, y, color, alpha);
                }
            }
        }
    }

    private static void Blend(RgbImage image, int x, int y, (byte R, byte G, byte B) color, float alpha)
    {
        if ((uint)x >= (uint)image.Width || (uint)y >= (uint)image.Height)
        {
            return;
        }
        var row = image.Row(y);
        var i = x * 3;
        if (alpha >= 1f)
        {
            row[i] = color.R;
            row[i + 1] = color.G;
            row[i + 2] = color.B;
            return;
        }
        row[i] = (byte)(row[i] + alpha * (color.R - row[i]) + 0.5f);
        row[i + 1] = (byte)(row[i + 1] + alpha * (color.G - row[i + 1]) + 0.5f);
        row[i + 2] = (byte)(row[i + 2] + alpha * (color.B - row[i + 2]) + 0.5f);
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
