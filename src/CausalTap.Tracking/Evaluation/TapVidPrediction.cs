namespace CausalTap.Tracking.Evaluation;

/// <summary>
/// A tracker's output for one TAP-Vid video, as <c>causaltap predict</c> writes it: <c>tracks</c> float32
/// [N,T,2] as (x, y) raster pixels of the input video, and <c>occluded</c> bool [N,T] (true = predicted
/// occluded). Positions may be anything (NaN included) where a point is predicted occluded; a NaN position
/// on a frame predicted visible simply counts as a miss in the metrics, as in the reference. The tracker's
/// <c>occlusion_probability</c> and <c>uncertainty</c> float32 [N,T] are written too (1 and 1 before a point's
/// query), so that an external scorer can sweep the visibility rule; <see cref="Load"/> does not need them.
/// </summary>
public sealed class TapVidPrediction
{
    /// <summary>Key names in the npz file.</summary>
    public const string TracksKey = "tracks", OccludedKey = "occluded",
        OcclusionProbabilityKey = "occlusion_probability", UncertaintyKey = "uncertainty";

    /// <summary>Wraps the arrays (not copied).</summary>
    public TapVidPrediction(int numPoints, int numFrames, float[] tracks, bool[] occluded)
    {
        ArgumentNullException.ThrowIfNull(tracks);
        ArgumentNullException.ThrowIfNull(occluded);
        ArgumentOutOfRangeException.ThrowIfNegative(numPoints);
        ArgumentOutOfRangeException.ThrowIfNegative(numFrames);
        if (tracks.Length != numPoints * numFrames * 2)
            throw new TapVidDataException($"'{TracksKey}' must hold N*T*2 = {numPoints}*{numFrames}*2 values, got {tracks.Length}");
        if (occluded.Length != numPoints * numFrames)
            throw new TapVidDataException($"'{OccludedKey}' must hold N*T = {numPoints}*{numFrames} values, got {occluded.Length}");
        NumPoints = numPoints;
        NumFrames = numFrames;
        Tracks = tracks;
        Occluded = occluded;
        OcclusionProbability = new float[numPoints * numFrames];
        Uncertainty = new float[numPoints * numFrames];
        Array.Fill(OcclusionProbability, 1f);
        Array.Fill(Uncertainty, 1f);
    }

    /// <summary>An all-zero, all-visible prediction to fill in.</summary>
    public static TapVidPrediction CreateEmpty(int numPoints, int numFrames) =>
        new(numPoints, numFrames, new float[numPoints * numFrames * 2], new bool[numPoints * numFrames]);

    /// <summary>N.</summary>
    public int NumPoints { get; }

    /// <summary>T.</summary>
    public int NumFrames { get; }

    /// <summary>[N*T*2] (x, y) per point and frame.</summary>
    public float[] Tracks { get; }

    /// <summary>[N*T] predicted occlusion.</summary>
    public bool[] Occluded { get; }

    /// <summary>[N*T] the tracker's occlusion probability (1 where it reported none).</summary>
    public float[] OcclusionProbability { get; }

    /// <summary>[N*T] the tracker's position uncertainty (1 where it reported none).</summary>
    public float[] Uncertainty { get; }

    /// <summary>Sets point <paramref name="point"/> at frame <paramref name="frame"/>.</summary>
    public void Set(int point, int frame, float x, float y, bool occluded)
    {
        int k = point * NumFrames + frame;
        Tracks[2 * k] = x;
        Tracks[2 * k + 1] = y;
        Occluded[k] = occluded;
    }

    /// <summary>Sets point <paramref name="point"/> at frame <paramref name="frame"/> with the tracker's scores.</summary>
    public void Set(int point, int frame, float x, float y, bool occluded, float occlusionProbability, float uncertainty)
    {
        Set(point, frame, x, y, occluded);
        OcclusionProbability[point * NumFrames + frame] = occlusionProbability;
        Uncertainty[point * NumFrames + frame] = uncertainty;
    }

    /// <summary>Writes <c>tracks</c> and <c>occluded</c> to an npz file (atomically) that numpy loads.</summary>
    public void Save(string path, bool compressed = false) =>
        NpzWriter.Save(path,
        [
            new(TracksKey, NpyArray.Create(Tracks, NumPoints, NumFrames, 2)),
            new(OccludedKey, NpyArray.Create(Occluded, NumPoints, NumFrames)),
            new(OcclusionProbabilityKey, NpyArray.Create(OcclusionProbability, NumPoints, NumFrames)),
            new(UncertaintyKey, NpyArray.Create(Uncertainty, NumPoints, NumFrames)),
        ], compressed);

    /// <summary>
    /// Loads a prediction file; when <paramref name="numPoints"/>/<paramref name="numFrames"/> are given the
    /// shapes must match them (e.g. the example the prediction is scored against).
    /// </summary>
    public static TapVidPrediction Load(string path, int? numPoints = null, int? numFrames = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var npz = new NpzReader(path);
            TapVidExample.Require(npz, TracksKey, "float32 [N,T,2] (x,y)");
            TapVidExample.Require(npz, OccludedKey, "bool [N,T]");
            float[] tracks = TapVidExample.ReadCoordinates(npz, TracksKey, out int[] shape);
            if (shape.Length != 3 || shape[2] != 2)
                throw new TapVidDataException($"'{TracksKey}' must have shape [N,T,2] (x,y), got {NpyHeader.FormatShape(shape)}");
            int n = shape[0], t = shape[1];
            if ((numPoints is { } en && en != n) || (numFrames is { } et && et != t))
                throw new TapVidDataException(
                    $"'{TracksKey}' has shape {NpyHeader.FormatShape(shape)} but the video has N={numPoints?.ToString() ?? "?"} points and T={numFrames?.ToString() ?? "?"} frames");
            NpyHeader oh = npz.ReadHeader(OccludedKey);
            if (oh.DType.Kind != NpyElementKind.Bool)
                throw new TapVidDataException($"'{OccludedKey}' must be bool [N,T], got dtype {oh.DType.Name}");
            if (oh.Shape.Length != 2 || oh.Shape[0] != n || oh.Shape[1] != t)
                throw new TapVidDataException($"'{OccludedKey}' must have shape ({n}, {t}), got {oh.ShapeText}");
            return new TapVidPrediction(n, t, tracks, npz.Read(OccludedKey).Bool);
        }
        catch (TapVidDataException e)
        {
            throw new TapVidDataException($"{path}: {e.Message}", e);
        }
        catch (NpyFormatException e)
        {
            throw new TapVidDataException(e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message : $"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The zero-motion baseline: every point stays at its query position on every frame and is never
    /// predicted occluded. A floor any tracker should beat.
    /// </summary>
    public static TapVidPrediction ZeroMotion(TapVidExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var p = CreateEmpty(example.NumPoints, example.NumFrames);
        for (int i = 0; i < example.NumPoints; i++)
        {
            (float x, float y) = example.QueryPosition(i);
            for (int t = 0; t < example.NumFrames; t++) p.Set(i, t, x, y, occluded: false);
        }
        return p;
    }
}
