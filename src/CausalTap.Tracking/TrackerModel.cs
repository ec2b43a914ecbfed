using CausalTap.Tracking.Inference;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CausalTap.Tracking;

/// <summary>
/// The ONNX Runtime sessions of one model directory, shared by every <see cref="StreamTracker"/> on it (session runs
/// are thread-safe). Loads the TAPIR trio and/or the GMRW pair — whichever the directory has — and checks each
/// graph's input/output names, element types and static shapes against the expected interface and model.json, so
/// that a mismatched export fails here with a message naming the file and tensor rather than inside a run.
/// </summary>
public sealed class TrackerModel : IDisposable
{
    internal static readonly string[] EncoderInputs = ["frame"];
    internal static readonly string[] EncoderOutputs = ["lowres", "hires"];
    internal static readonly string[] QueryInputs = ["lowres", "hires", "points"];
    internal static readonly string[] QueryOutputs = ["query_lowres", "query_hires"];
    internal static readonly string[] StepInputs = ["lowres", "hires", "query_lowres", "query_hires", "state"];
    internal static readonly string[] StepOutputs = ["position", "occlusion_logit", "expected_dist_logit", "new_state"];
    internal static readonly string[] GmrwEncoderInputs = ["frame"];
    internal static readonly string[] GmrwEncoderOutputs = ["gmrw_features"];
    internal static readonly string[] GmrwMatchInputs = ["prev_features", "new_features", "points"];
    internal static readonly string[] GmrwMatchOutputs = ["forward", "backward", "fb_error"];

    private readonly List<InferenceSession> _sessions = [];

    private TrackerModel(ModelDirectory directory)
    {
        Directory = directory;
    }

    /// <summary>The directory the model was loaded from.</summary>
    public ModelDirectory Directory { get; }

    /// <summary>The provider every session of the model runs on, and (for auto) what was skipped and why.</summary>
    public ProviderChoice Provider { get; private set; } = null!;

    /// <summary>Model input width.</summary>
    public int InputWidth { get; private set; }

    /// <summary>Model input height.</summary>
    public int InputHeight { get; private set; }

    /// <summary>Whether the TAPIR sessions are loaded.</summary>
    public bool HasTapir => Encoder is not null;

    /// <summary>Whether the GMRW sessions are loaded.</summary>
    public bool HasGmrw => GmrwEncoder is not null;

    /// <summary>TAPIR low-res grid shape [1, C, h, w] (empty without TAPIR).</summary>
    public IReadOnlyList<long> LowresShape { get; private set; } = [];

    /// <summary>TAPIR hi-res grid shape [1, C2, h, w] (empty without TAPIR).</summary>
    public IReadOnlyList<long> HiresShape { get; private set; } = [];

    /// <summary>Floats of causal state per point (S of step's state [N, S]); 0 without TAPIR.</summary>
    public int StateFloatsPerPoint { get; private set; }

    /// <summary>GMRW feature shape [1, C, h, w] (empty without GMRW).</summary>
    public IReadOnlyList<long> GmrwFeatureShape { get; private set; } = [];

    /// <summary>GMRW forward-backward occlusion threshold in model pixels (card, else 3 px scaled to the input width).</summary>
    public float FbThresholdPx { get; private set; }

    internal InferenceSession? Encoder { get; private set; }
    internal InferenceSession? Query { get; private set; }
    internal InferenceSession? Step { get; private set; }
    internal InferenceSession? GmrwEncoder { get; private set; }
    internal InferenceSession? GmrwMatch { get; private set; }
    internal int LowresDim => (int)LowresShape[1];
    internal int HiresDim => (int)HiresShape[1];

    /// <summary>
    /// Creates the sessions of every family the directory has, all on the provider <see cref="ProviderPolicy"/>
    /// chooses for <see cref="TrackerOptions.Provider"/> (reported in <see cref="Provider"/>). Throws
    /// <see cref="ModelLoadException"/> for a missing, corrupt or mismatched graph and
    /// <see cref="ProviderUnavailableException"/> when an explicitly named provider does not load.
    /// </summary>
    public static TrackerModel Load(ModelDirectory directory, TrackerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        options ??= new TrackerOptions();
        if (!directory.HasTapir && !directory.HasGmrw)
        {
            throw new ModelLoadException($"Model '{directory.Name}' ({directory.Path}) has neither the TAPIR graphs " +
                                         "(encoder, query, step) nor the GMRW graphs (gmrw_encoder, gmrw_match).");
        }
        if (directory.InputWidth <= 0 || directory.InputHeight <= 0)
        {
            throw new ModelLoadException($"Model '{directory.Name}': model.json does not give the input size (input.width/height).");
        }
        var settings = new InferenceSettings(options.Provider, options.IntraOpThreads);
        var choice = ProviderPolicy.Choose(options.Provider); // once, so that every graph runs on the same provider
        var model = new TrackerModel(directory)
        {
            InputWidth = directory.InputWidth, InputHeight = directory.InputHeight, Provider = choice, RunOptions = new RunOptions(),
        };
        try
        {
            if (directory.HasTapir)
            {
                model.Encoder = model.Open("encoder", settings);
                model.Query = model.Open("query", settings);
                model.Step = model.Open("step", settings);
                model.ValidateTapir();
            }
            if (directory.HasGmrw)
            {
                model.GmrwEncoder = model.Open("gmrw_encoder", settings);
                model.GmrwMatch = model.Open("gmrw_match", settings);
                model.ValidateGmrw();
            }
            model.FbThresholdPx = (float)(directory.Card.FbThresholdPx ?? 3.0 * directory.InputWidth / 256.0);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Releases every session.</summary>
    public void Dispose()
    {
        foreach (var s in _sessions)
        {
            s.Dispose();
        }
        _sessions.Clear();
        RunOptions?.Dispose();
    }

    /// <summary>Run options shared by every run on the model's sessions (read-only after load).</summary>
    internal RunOptions RunOptions { get; private set; } = null!;

    private InferenceSession Open(string key, InferenceSettings settings)
    {
        var path = Directory.GraphPath(key);
        if (!File.Exists(path))
        {
            throw new ModelLoadException($"Model '{Directory.Name}': graph '{key}' file {path} is missing.");
        }
        try
        {
            var session = ProviderPolicy.Open(path, settings, Provider);
            _sessions.Add(session);
            return session;
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelLoadException($"Model '{Directory.Name}': graph '{key}' ({path}) cannot be loaded by ONNX Runtime " +
                                         $"on {Provider.Provider} (corrupt or not an ONNX model?): {e.Message}", e);
        }
    }

    private void ValidateTapir()
    {
        var w = InputWidth;
        var h = InputHeight;
        var enc = Check("encoder", Encoder!, EncoderInputs, EncoderOutputs);
        Expect("encoder", enc["frame"], [1, 3, h, w]);
        var lo = enc["lowres"];
        var hi = enc["hires"];
        RequireStatic("encoder", lo, 4);
        RequireStatic("encoder", hi, 4);
        LowresShape = lo.Shape.ToArray();
        HiresShape = hi.Shape.ToArray();
        long c = lo.Shape[1], c2 = hi.Shape[1];

        var q = Check("query", Query!, QueryInputs, QueryOutputs);
        Expect("query", q["lowres"], LowresShape);
        Expect("query", q["hires"], HiresShape);
        Expect("query", q["points"], [-1, 2]);
        Expect("query", q["query_lowres"], [-1, c]);
        Expect("query", q["query_hires"], [-1, c2]);

        var s = Check("step", Step!, StepInputs, StepOutputs);
        Expect("step", s["lowres"], LowresShape);
        Expect("step", s["hires"], HiresShape);
        Expect("step", s["query_lowres"], [-1, c]);
        Expect("step", s["query_hires"], [-1, c2]);
        var state = s["state"];
        if (state.Shape.Count != 2 || state.Shape[1] <= 0)
        {
            throw Mismatch("step", $"input 'state' must be [N, S] with a static S, the graph has {state}");
        }
        StateFloatsPerPoint = checked((int)state.Shape[1]);
        Expect("step", state, [-1, StateFloatsPerPoint]);
        Expect("step", s["new_state"], [-1, StateFloatsPerPoint]);
        Expect("step", s["position"], [-1, 2]);
        Expect("step", s["occlusion_logit"], [-1]);
        Expect("step", s["expected_dist_logit"], [-1]);
    }

    private void ValidateGmrw()
    {
        var e = Check("gmrw_encoder", GmrwEncoder!, GmrwEncoderInputs, GmrwEncoderOutputs);
        Expect("gmrw_encoder", e["frame"], [1, 3, InputHeight, InputWidth]);
        var f = e["gmrw_features"];
        RequireStatic("gmrw_encoder", f, 4);
        GmrwFeatureShape = f.Shape.ToArray();
        var m = Check("gmrw_match", GmrwMatch!, GmrwMatchInputs, GmrwMatchOutputs);
        Expect("gmrw_match", m["prev_features"], GmrwFeatureShape);
        Expect("gmrw_match", m["new_features"], GmrwFeatureShape);
        Expect("gmrw_match", m["points"], [-1, 2]);
        Expect("gmrw_match", m["forward"], [-1, 2]);
        Expect("gmrw_match", m["backward"], [-1, 2]);
        Expect("gmrw_match", m["fb_error"], [-1]);
    }

    /// <summary>Names must be exactly the expected ones, all float32; card shapes must agree with the graph's.</summary>
    private Dictionary<string, GraphTensor> Check(string key, InferenceSession session, string[] inputs, string[] outputs)
    {
        var file = System.IO.Path.GetFileName(Directory.GraphPath(key));
        void SameNames(IReadOnlyList<string> actual, string[] expected, string what)
        {
            if (!actual.OrderBy(x => x, StringComparer.Ordinal).SequenceEqual(expected.OrderBy(x => x, StringComparer.Ordinal)))
            {
                throw new ModelLoadException($"Model '{Directory.Name}': {file} has {what} [{string.Join(", ", actual)}], " +
                                             $"expected [{string.Join(", ", expected)}] (is it the right graph / export version?).");
            }
        }
        SameNames(session.InputNames, inputs, "inputs");
        SameNames(session.OutputNames, outputs, "outputs");
        var all = GraphTensor.Inputs(session).Concat(GraphTensor.Outputs(session)).ToDictionary(m => m.Name, StringComparer.Ordinal);
        foreach (var m in all.Values)
        {
            if (m.ElementType != TensorElementType.Float)
            {
                throw Mismatch(key, $"tensor '{m.Name}' is {m.ElementType}, expected float32");
            }
        }
        if (Directory.Card.Graphs.TryGetValue(key, out var card))
        {
            foreach (var t in card.Inputs.Concat(card.Outputs))
            {
                if (!all.TryGetValue(t.Name, out var m))
                {
                    throw Mismatch(key, $"model.json lists tensor '{t.Name}', which the graph does not have");
                }
                if (!SameShape(m.Shape, t.Shape))
                {
                    throw Mismatch(key, $"tensor '{t.Name}' is {m} in the graph but {t.ShapeText} in model.json");
                }
            }
        }
        return all;
    }

    private static bool SameShape(IReadOnlyList<long> graph, IReadOnlyList<long> expected)
    {
        if (graph.Count != expected.Count)
        {
            return false;
        }
        for (var i = 0; i < graph.Count; i++)
        {
            // A dynamic graph dim where a static one is expected is accepted: exporters leave some output dims
            // symbolic (e.g. "Gatherquery_lowres_dim_1"); ORT checks them against the preallocated outputs at run
            // time. A static dim where the point axis must be dynamic, or two different static dims, is an error.
            if (graph[i] >= 0 && (expected[i] < 0 || graph[i] != expected[i]))
            {
                return false;
            }
        }
        return true;
    }

    private void Expect(string key, GraphTensor m, IReadOnlyList<long> expected)
    {
        if (!SameShape(m.Shape, expected))
        {
            var text = "[" + string.Join(", ", expected.Select(d => d < 0 ? "N" : d.ToString())) + "]";
            throw Mismatch(key, $"tensor '{m.Name}' is {m}, expected {text} for a {InputWidth}x{InputHeight} model");
        }
    }

    private void RequireStatic(string key, GraphTensor m, int rank)
    {
        if (m.Shape.Count != rank || m.IsDynamic)
        {
            throw Mismatch(key, $"tensor '{m.Name}' must have a static rank-{rank} shape, the graph has {m}");
        }
    }

    private ModelLoadException Mismatch(string key, string what) =>
        new($"Model '{Directory.Name}': {System.IO.Path.GetFileName(Directory.GraphPath(key))}: {what}.");
}
