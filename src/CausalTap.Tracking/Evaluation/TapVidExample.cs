using System.Globalization;

namespace CausalTap.Tracking.Evaluation;

/// <summary>
/// One TAP-Vid video in the npz format used by <c>causaltap eval</c> and <c>causaltap predict</c>:
/// <list type="bullet">
/// <item><c>video</c> uint8 [T,H,W,3] RGB frames;</item>
/// <item><c>query_points</c> float32 [N,3] as (t, y, x): frame index and raster pixel position;</item>
/// <item><c>target_points</c> float32 [N,T,2] as (x, y) raster pixels (ground truth, optional);</item>
/// <item><c>occluded</c> bool [N,T], true = occluded (ground truth, optional, present iff target_points is);</item>
/// <item><c>query_mode</c> optional 0-d string <c>first</c> or <c>strided</c>.</item>
/// </list>
/// Raster convention: (0,0) is the top-left corner of the top-left pixel. float64 coordinates are accepted
/// and converted to float32; any other key is ignored. The query frame of a point is its t rounded half to
/// even (as numpy's <c>np.round</c>) and must lie in [0, T-1].
/// </summary>
public sealed class TapVidExample
{
    /// <summary>Key names in the npz file.</summary>
    public const string VideoKey = "video", QueryPointsKey = "query_points", TargetPointsKey = "target_points",
        OccludedKey = "occluded", QueryModeKey = "query_mode";

    /// <summary>Validates and wraps the arrays (not copied). See the class summary for the layout.</summary>
    /// <param name="video">uint8 [T,H,W,3].</param>
    /// <param name="queryPoints">[N*3] (t,y,x) per point.</param>
    /// <param name="targetPoints">[N*T*2] (x,y) per point and frame, or null without ground truth.</param>
    /// <param name="occluded">[N*T], or null without ground truth.</param>
    /// <param name="queryMode">the sampling mode recorded in the file, if any.</param>
    /// <param name="name">a display name (the file name without extension when loaded).</param>
    public TapVidExample(NpyArray video, float[] queryPoints, float[]? targetPoints, bool[]? occluded,
        TapVidQueryMode? queryMode = null, string name = "video")
    {
        ArgumentNullException.ThrowIfNull(video);
        ArgumentNullException.ThrowIfNull(queryPoints);
        Name = name;
        if (video.DType.Kind != NpyElementKind.UInt8)
            throw Error($"'{VideoKey}' must be uint8 [T,H,W,3], got dtype {video.DType.Name}");
        if (video.Rank != 4 || video.Shape[3] != 3)
            throw Error($"'{VideoKey}' must have shape [T,H,W,3], got {video.ShapeText}");
        if (video.Shape[0] < 1 || video.Shape[1] < 1 || video.Shape[2] < 1)
            throw Error($"'{VideoKey}' is empty: shape {video.ShapeText}");
        Video = video;
        NumFrames = video.Shape[0];
        Height = video.Shape[1];
        Width = video.Shape[2];

        if (queryPoints.Length % 3 != 0)
            throw Error($"'{QueryPointsKey}' must hold N*3 values, got {queryPoints.Length}");
        NumPoints = queryPoints.Length / 3;
        QueryPoints = queryPoints;
        QueryFrames = new int[NumPoints];
        for (int i = 0; i < NumPoints; i++)
        {
            float t = queryPoints[3 * i], y = queryPoints[3 * i + 1], x = queryPoints[3 * i + 2];
            if (!float.IsFinite(t) || !float.IsFinite(y) || !float.IsFinite(x))
                throw Error($"query point {i} is not finite: (t,y,x) = ({Fmt(t)}, {Fmt(y)}, {Fmt(x)})");
            double rounded = Math.Round((double)t, MidpointRounding.ToEven);
            if (rounded < 0 || rounded > NumFrames - 1)
                throw Error($"query point {i} has t = {Fmt(t)}, outside the video's frames 0..{NumFrames - 1}");
            QueryFrames[i] = (int)rounded;
        }

        if ((targetPoints is null) != (occluded is null))
            throw Error($"'{TargetPointsKey}' and '{OccludedKey}' must both be present (ground truth) or both absent");
        if (targetPoints is not null && occluded is not null)
        {
            if (targetPoints.Length != NumPoints * NumFrames * 2)
                throw Error($"'{TargetPointsKey}' must hold N*T*2 = {NumPoints}*{NumFrames}*2 values, got {targetPoints.Length}");
            if (occluded.Length != NumPoints * NumFrames)
                throw Error($"'{OccludedKey}' must hold N*T = {NumPoints}*{NumFrames} values, got {occluded.Length}");
            for (int i = 0; i < occluded.Length; i++)
            {
                if (!occluded[i] && (!float.IsFinite(targetPoints[2 * i]) || !float.IsFinite(targetPoints[2 * i + 1])))
                    throw Error($"'{TargetPointsKey}' of point {i / NumFrames} at frame {i % NumFrames} is visible but not finite");
            }
        }
        TargetPoints = targetPoints;
        Occluded = occluded;
        QueryMode = queryMode;
    }

    /// <summary>Display name (file name without extension when loaded from a file).</summary>
    public string Name { get; }

    /// <summary>uint8 [T,H,W,3] RGB frames.</summary>
    public NpyArray Video { get; }

    /// <summary>T.</summary>
    public int NumFrames { get; }

    /// <summary>H (pixels).</summary>
    public int Height { get; }

    /// <summary>W (pixels).</summary>
    public int Width { get; }

    /// <summary>N.</summary>
    public int NumPoints { get; }

    /// <summary>[N*3]: (t, y, x) per point.</summary>
    public float[] QueryPoints { get; }

    /// <summary>[N]: the query frame of each point (t rounded half to even).</summary>
    public int[] QueryFrames { get; }

    /// <summary>[N*T*2] ground-truth (x, y), or null.</summary>
    public float[]? TargetPoints { get; }

    /// <summary>[N*T] ground-truth occlusion (true = occluded), or null.</summary>
    public bool[]? Occluded { get; }

    /// <summary>The query mode stored in the file, if any.</summary>
    public TapVidQueryMode? QueryMode { get; }

    /// <summary>Whether ground truth (<c>target_points</c>, <c>occluded</c>) is present.</summary>
    public bool HasGroundTruth => TargetPoints is not null;

    /// <summary>The H·W·3 bytes of frame <paramref name="t"/> (a view into <see cref="Video"/>).</summary>
    public ReadOnlySpan<byte> Frame(int t)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(t);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(t, NumFrames);
        int size = Height * Width * 3;
        return Video.UInt8.AsSpan(t * size, size);
    }

    /// <summary>Query (x, y) of point <paramref name="i"/>.</summary>
    public (float X, float Y) QueryPosition(int i) => (QueryPoints[3 * i + 2], QueryPoints[3 * i + 1]);

    /// <summary>
    /// Loads and validates a TAP-Vid npz file. Shapes and dtypes are checked from the member headers before
    /// any large data is read; the video is read once, straight into its buffer.
    /// </summary>
    /// <param name="path">the .npz file.</param>
    /// <param name="requireGroundTruth">throw unless <c>target_points</c> and <c>occluded</c> are present.</param>
    public static TapVidExample Load(string path, bool requireGroundTruth = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        string name = Path.GetFileNameWithoutExtension(path);
        try
        {
            using var npz = new NpzReader(path);
            return Load(npz, name, requireGroundTruth);
        }
        catch (TapVidDataException e)
        {
            string message = e.Message.StartsWith(name + ": ", StringComparison.Ordinal) ? e.Message[(name.Length + 2)..] : e.Message;
            throw new TapVidDataException($"{path}: {message}", e);
        }
        catch (NpyFormatException e)
        {
            throw new TapVidDataException(e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message : $"{path}: {e.Message}", e);
        }
    }

    /// <summary>Loads and validates an example from an open npz archive.</summary>
    public static TapVidExample Load(NpzReader npz, string name, bool requireGroundTruth = false)
    {
        ArgumentNullException.ThrowIfNull(npz);
        Require(npz, VideoKey, "uint8 [T,H,W,3]");
        Require(npz, QueryPointsKey, "float32 [N,3] (t,y,x)");
        NpyHeader videoHeader = npz.ReadHeader(VideoKey);
        if (videoHeader.DType.Kind != NpyElementKind.UInt8)
            throw new TapVidDataException($"'{VideoKey}' must be uint8 [T,H,W,3], got dtype {videoHeader.DType.Name}");
        if (videoHeader.Shape.Length != 4 || videoHeader.Shape[3] != 3)
            throw new TapVidDataException($"'{VideoKey}' must have shape [T,H,W,3], got {videoHeader.ShapeText}");
        int t = videoHeader.Shape[0];

        float[] query = ReadCoordinates(npz, QueryPointsKey, out int[] qShape);
        if (qShape.Length != 2 || qShape[1] != 3)
            throw new TapVidDataException($"'{QueryPointsKey}' must have shape [N,3] (t,y,x), got {NpyHeader.FormatShape(qShape)}");
        int n = qShape[0];

        bool hasTarget = npz.Contains(TargetPointsKey), hasOcc = npz.Contains(OccludedKey);
        if (requireGroundTruth && !(hasTarget && hasOcc))
            throw new TapVidDataException(
                $"ground truth missing: need '{TargetPointsKey}' float32 [N,T,2] and '{OccludedKey}' bool [N,T] (the file has: {string.Join(", ", npz.Keys)})");
        if (hasTarget != hasOcc)
            throw new TapVidDataException($"'{TargetPointsKey}' and '{OccludedKey}' must both be present (ground truth) or both absent");
        float[]? target = null;
        bool[]? occluded = null;
        if (hasTarget)
        {
            target = ReadCoordinates(npz, TargetPointsKey, out int[] tShape);
            if (tShape.Length != 3 || tShape[0] != n || tShape[1] != t || tShape[2] != 2)
                throw new TapVidDataException(
                    $"'{TargetPointsKey}' must have shape [N,T,2] = ({n}, {t}, 2) (x,y), got {NpyHeader.FormatShape(tShape)}");
            NpyHeader oh = npz.ReadHeader(OccludedKey);
            if (oh.DType.Kind != NpyElementKind.Bool)
                throw new TapVidDataException($"'{OccludedKey}' must be bool [N,T], got dtype {oh.DType.Name}");
            if (oh.Shape.Length != 2 || oh.Shape[0] != n || oh.Shape[1] != t)
                throw new TapVidDataException($"'{OccludedKey}' must have shape [N,T] = ({n}, {t}), got {oh.ShapeText}");
            occluded = npz.Read(OccludedKey).Bool;
        }

        TapVidQueryMode? mode = null;
        if (npz.Contains(QueryModeKey))
            mode = ReadQueryMode(npz.Read(QueryModeKey));

        NpyArray video = npz.Read(VideoKey);
        return new TapVidExample(video, query, target, occluded, mode, name);
    }

    /// <summary>Writes this example in the same npz format (with ground truth and query_mode if present).</summary>
    public void Save(string path, bool compressed = false)
    {
        var arrays = new List<KeyValuePair<string, NpyArray>>
        {
            new(VideoKey, Video),
            new(QueryPointsKey, NpyArray.Create(QueryPoints, NumPoints, 3)),
        };
        if (TargetPoints is not null && Occluded is not null)
        {
            arrays.Add(new(TargetPointsKey, NpyArray.Create(TargetPoints, NumPoints, NumFrames, 2)));
            arrays.Add(new(OccludedKey, NpyArray.Create(Occluded, NumPoints, NumFrames)));
        }
        if (QueryMode is { } m) arrays.Add(new(QueryModeKey, NpyArray.FromString(m.ToName())));
        NpzWriter.Save(path, arrays, compressed);
    }

    /// <summary>The sorted <c>*.npz</c> files of a dataset folder; throws if there are none.</summary>
    public static string[] ListDataset(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"dataset folder '{directory}' does not exist");
        string[] files = Directory.GetFiles(directory, "*.npz", SearchOption.TopDirectoryOnly);
        Array.Sort(files, StringComparer.Ordinal);
        if (files.Length == 0)
            throw new FileNotFoundException($"dataset folder '{directory}' has no .npz files");
        return files;
    }

    internal static TapVidQueryMode ReadQueryMode(NpyArray array)
    {
        string text;
        try
        {
            text = array.GetString();
        }
        catch (InvalidOperationException)
        {
            throw new TapVidDataException($"'{QueryModeKey}' must be a string ('first' or 'strided'), got {array}");
        }
        return TapVidQueryModes.TryParse(text, out TapVidQueryMode mode)
            ? mode
            : throw new TapVidDataException($"'{QueryModeKey}' is '{text}', expected 'first' or 'strided'");
    }

    internal static void Require(NpzReader npz, string key, string what)
    {
        if (!npz.Contains(key))
            throw new TapVidDataException($"missing array '{key}' ({what}); the file has: {string.Join(", ", npz.Keys)}");
    }

    /// <summary>Reads a float32 (or float64, converted) array.</summary>
    internal static float[] ReadCoordinates(NpzReader npz, string key, out int[] shape)
    {
        NpyHeader h = npz.ReadHeader(key);
        if (h.DType.Kind is not (NpyElementKind.Float32 or NpyElementKind.Float64))
            throw new TapVidDataException($"'{key}' must be float32, got dtype {h.DType.Name}");
        shape = h.Shape;
        NpyArray a = npz.Read(key);
        return a.DType.Kind == NpyElementKind.Float32 ? a.Float32 : a.ToFloat32Array();
    }

    private TapVidDataException Error(string message) => new($"{Name}: {message}");

    private static string Fmt(float v) => v.ToString("R", CultureInfo.InvariantCulture);
}
