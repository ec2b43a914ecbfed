namespace CausalTap.Tracking;

/// <summary>Which estimate a <see cref="StreamTracker"/> publishes.</summary>
public enum TrackingMethod
{
    /// <summary>TAPIR and GMRW fused by <see cref="Fusion"/> (needs both model families).</summary>
    Fused,

    /// <summary>Causal TAPIR / BootsTAPIR alone (encoder, query, step).</summary>
    Tapir,

    /// <summary>Incremental GMRW alone (each point chained frame to frame from its query).</summary>
    Gmrw,

    /// <summary>
    /// Pyramidal Lucas-Kanade as the precise local tracker, TAPIR's global re-detection where LK fails its
    /// forward-backward check, TAPIR's occlusion (needs the TAPIR graphs).
    /// </summary>
    TapirLk,
}

/// <summary>How <see cref="TrackerModel.Load"/> creates its ONNX Runtime sessions.</summary>
/// <param name="Provider">Execution provider: auto (TensorRT, else CUDA, else CPU), cpu, cuda or tensorrt. A named
/// provider that does not load is an error (<see cref="Inference.ProviderUnavailableException"/>), never a fallback.</param>
/// <param name="IntraOpThreads">Threads per session run (0 = $CAUSALTAP_ORT_THREADS, else the ONNX Runtime default).</param>
public sealed record TrackerOptions(string Provider = Inference.ExecutionProviders.Cpu, int IntraOpThreads = 0);

/// <summary>
/// One point on one frame, in source-image pixels (raster: (0, 0) is the top-left corner of the top-left pixel).
/// </summary>
/// <param name="Id">The id <see cref="StreamTracker.AddPoint"/> returned.</param>
/// <param name="X">x in source pixels.</param>
/// <param name="Y">y in source pixels.</param>
/// <param name="Visible">Whether the point is judged visible (see <see cref="Fusion"/> for each method's rule).</param>
/// <param name="OcclusionProbability">TAPIR: sigmoid(occlusion_logit). GMRW: fb / (fb + threshold) (1 outside the image).</param>
/// <param name="Uncertainty">TAPIR: sigmoid(expected_dist_logit), the probability that the position is off by more
/// than the model's distance threshold. GMRW: fb / (fb + threshold).</param>
public readonly record struct PointEstimate(int Id, float X, float Y, bool Visible, float OcclusionProbability, float Uncertainty);

/// <summary>
/// The raw per-point model outputs behind a <see cref="PointEstimate"/>, in <b>model</b> pixels, for debugging,
/// parity tests and fusion studies. Fields of a family the stream does not run are NaN.
/// </summary>
/// <param name="Id">Point id.</param>
/// <param name="TapirX">TAPIR position x (model px).</param>
/// <param name="TapirY">TAPIR position y (model px).</param>
/// <param name="OcclusionLogit">TAPIR occlusion logit.</param>
/// <param name="ExpectedDistLogit">TAPIR expected-distance logit.</param>
/// <param name="GmrwX">GMRW forward position x (model px); the query on the point's query frame.</param>
/// <param name="GmrwY">GMRW forward position y (model px).</param>
/// <param name="FbError">GMRW forward-backward error (model px); 0 on the query frame.</param>
/// <param name="IsQueryFrame">True on the frame the point was added on.</param>
public readonly record struct PointDiagnostics(int Id, float TapirX, float TapirY, float OcclusionLogit, float ExpectedDistLogit,
    float GmrwX, float GmrwY, float FbError, bool IsQueryFrame);

/// <summary>
/// What one <see cref="StreamTracker.Track"/> call produced. The object is owned by the tracker and overwritten by
/// its next call: copy what you need to keep.
/// </summary>
public sealed class TrackFrameResult
{
    internal PointEstimate[] PointBuffer = [];
    internal PointDiagnostics[] DiagnosticBuffer = [];
    internal int Count;

    /// <summary>0 for the first frame passed to the tracker, then +1 per call.</summary>
    public long FrameIndex { get; internal set; }

    /// <summary>Width of the frame this result is for.</summary>
    public int SourceWidth { get; internal set; }

    /// <summary>Height of the frame this result is for.</summary>
    public int SourceHeight { get; internal set; }

    /// <summary>Every point of the stream on this frame, in ascending id order (= the order they were added).</summary>
    public ReadOnlySpan<PointEstimate> Points => PointBuffer.AsSpan(0, Count);

    /// <summary>Raw model outputs of the same points, same order (see <see cref="PointDiagnostics"/>).</summary>
    public ReadOnlySpan<PointDiagnostics> Diagnostics => DiagnosticBuffer.AsSpan(0, Count);

    internal void EnsureCapacity(int n)
    {
        if (PointBuffer.Length < n)
        {
            var cap = Math.Max(n, Math.Max(16, PointBuffer.Length * 2));
            PointBuffer = new PointEstimate[cap];
            DiagnosticBuffer = new PointDiagnostics[cap];
        }
    }
}

/// <summary>
/// Wall time of each stage of the last <see cref="StreamTracker.Track"/> call, in milliseconds (Stopwatch ticks,
/// no allocation). A stage that did not run is 0.
/// </summary>
/// <param name="PreprocessMs">Resize + normalise into the model input buffer.</param>
/// <param name="EncoderMs">TAPIR encoder.</param>
/// <param name="QueryMs">TAPIR query features of the points added on this frame.</param>
/// <param name="StepMs">TAPIR step for all points (one batched call).</param>
/// <param name="LocalMs">The frame-to-frame tracker for all points: GMRW encoder + match, or Lucas-Kanade (TapirLk).</param>
/// <param name="FuseMs">Fusion, mapping to source pixels and publishing.</param>
/// <param name="TotalMs">The whole call.</param>
public readonly record struct StageTimings(double PreprocessMs, double EncoderMs, double QueryMs, double StepMs,
    double LocalMs, double FuseMs, double TotalMs);

/// <summary>A model directory, card or graph that cannot be used; the message says which file and why.</summary>
public sealed class ModelLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ModelLoadException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
