namespace CausalTap.Imaging;

/// <summary>
/// Maps point coordinates between source-image pixels and model-input pixels.
/// <para>
/// Raster convention throughout: (0, 0) is the top-left <i>corner</i> of the top-left pixel, so the centre of
/// pixel (i, j) is (i + 0.5, j + 0.5) and the image spans [0, W] x [0, H]. With this convention the mapping is
/// a pure scale, <c>x_model = x_src * W_model / W_src</c> (likewise y), and it is exactly consistent with the
/// half-pixel-centre resize of <see cref="ModelInputWriter"/>: a source pixel centre lands where the resize
/// samples it. Points are (x, y), matching the model's output order.
/// </para>
/// </summary>
public readonly record struct CoordinateMapping(int SourceWidth, int SourceHeight, int ModelWidth, int ModelHeight)
{
    /// <summary>Model pixels per source pixel along x.</summary>
    public float ScaleX => (float)ModelWidth / SourceWidth;

    /// <summary>Model pixels per source pixel along y.</summary>
    public float ScaleY => (float)ModelHeight / SourceHeight;

    /// <summary>Source-image point -> model-input point.</summary>
    public (float X, float Y) ToModel(float x, float y) =>
        (x * ModelWidth / SourceWidth, y * ModelHeight / SourceHeight);

    /// <summary>Model-input point -> source-image point.</summary>
    public (float X, float Y) ToSource(float x, float y) =>
        (x * SourceWidth / ModelWidth, y * SourceHeight / ModelHeight);

    /// <summary>Maps interleaved (x, y) pairs from model to source pixels in place (no allocation).</summary>
    public void ToSourceInPlace(Span<float> xy)
    {
        float sx = (float)SourceWidth / ModelWidth, sy = (float)SourceHeight / ModelHeight;
        for (var i = 0; i + 1 < xy.Length; i += 2)
        {
            xy[i] *= sx;
            xy[i + 1] *= sy;
        }
    }

    /// <summary>Maps interleaved (x, y) pairs from source to model pixels in place (no allocation).</summary>
    public void ToModelInPlace(Span<float> xy)
    {
        float sx = (float)ModelWidth / SourceWidth, sy = (float)ModelHeight / SourceHeight;
        for (var i = 0; i + 1 < xy.Length; i += 2)
        {
            xy[i] *= sx;
            xy[i + 1] *= sy;
        }
    }
}
