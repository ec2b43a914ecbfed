using System.Text.Json;

namespace CausalTap.Tracking;

/// <summary>One input or output of a graph as model.json describes it.</summary>
/// <param name="Name">Tensor name in the graph.</param>
/// <param name="DType">Element type ("float32").</param>
/// <param name="Shape">Dimensions; a dynamic axis is -1 and named in <paramref name="DimensionNames"/>.</param>
/// <param name="DimensionNames">Per dimension, the dynamic axis name ("N", "K") or an empty string.</param>
/// <param name="Semantics">What the tensor means (free text).</param>
public sealed record TensorCard(string Name, string DType, IReadOnlyList<long> Shape, IReadOnlyList<string> DimensionNames, string Semantics)
{
    /// <summary>Shape as text, dynamic axes by name: <c>[N, 2]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape.Select((d, i) => d >= 0 ? d.ToString() : DimensionNames[i])) + "]";
}

/// <summary>One exported graph as model.json describes it.</summary>
/// <param name="Key">Its role: encoder, query, step, gmrw_encoder, gmrw_match.</param>
/// <param name="File">File name relative to the model directory.</param>
/// <param name="Sha256">Lower-case hex sha256 of the file (null when the card has none).</param>
/// <param name="Inputs">Inputs in graph order.</param>
/// <param name="Outputs">Outputs in graph order.</param>
public sealed record GraphCard(string Key, string File, string? Sha256, IReadOnlyList<TensorCard> Inputs, IReadOnlyList<TensorCard> Outputs);

/// <summary>
/// model.json, the model card written by <c>training/causaltap_training/export</c>. Read with System.Text.Json and
/// tolerant of extra fields. Recognised fields:
/// <list type="bullet">
/// <item><c>name</c>, <c>description</c>, <c>format_version</c>;</item>
/// <item>input size: <c>input.width</c>/<c>input.height</c>, else <c>resolution</c> / <c>input_size</c> ([H, W]),
/// else the static shape of the encoder's <c>frame</c> input;</item>
/// <item>graphs: <c>graphs.{encoder,query,step,gmrw_encoder,gmrw_match}</c> (also accepted under <c>tapir.graphs</c>
/// and <c>gmrw.graphs</c>), each <c>{file, sha256, inputs, outputs}</c> with tensors <c>{name, dtype, shape, semantics}</c>
/// where a dynamic dimension is a string;</item>
/// <item><c>gmrw.fb_threshold_px</c> (or top-level <c>fb_threshold_px</c>): GMRW's forward-backward occlusion
/// threshold in model pixels (default 3 at 256², scaled with the input width when absent).</item>
/// </list>
/// </summary>
public sealed class ModelCard
{
    /// <summary>Graph keys of the TAPIR family.</summary>
    public static readonly IReadOnlyList<string> TapirGraphs = ["encoder", "query", "step"];

    /// <summary>Graph keys of GMRW.</summary>
    public static readonly IReadOnlyList<string> GmrwGraphs = ["gmrw_encoder", "gmrw_match"];

    private ModelCard(JsonElement root, string? name, string? description, int formatVersion, int width, int height,
        IReadOnlyDictionary<string, GraphCard> graphs, double? fbThreshold)
    {
        Root = root;
        Name = name;
        Description = description;
        FormatVersion = formatVersion;
        InputWidth = width;
        InputHeight = height;
        Graphs = graphs;
        FbThresholdPx = fbThreshold;
    }

    /// <summary>The whole document (a detached clone), for fields this class does not model.</summary>
    public JsonElement Root { get; }

    /// <summary><c>name</c>, when present.</summary>
    public string? Name { get; }

    /// <summary><c>description</c>, when present.</summary>
    public string? Description { get; }

    /// <summary><c>format_version</c> (0 when absent).</summary>
    public int FormatVersion { get; }

    /// <summary>Model input width in pixels (0 when the card does not say).</summary>
    public int InputWidth { get; }

    /// <summary>Model input height in pixels (0 when the card does not say).</summary>
    public int InputHeight { get; }

    /// <summary>Graphs listed by the card, by key.</summary>
    public IReadOnlyDictionary<string, GraphCard> Graphs { get; }

    /// <summary>GMRW forward-backward threshold from the card (model px), or null.</summary>
    public double? FbThresholdPx { get; }

    /// <summary>Parses model.json text; <paramref name="source"/> names the file in error messages.</summary>
    public static ModelCard Parse(string json, string source = "model.json")
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"{source} is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException($"{source} must hold a JSON object, found {root.ValueKind}.");
            }
            try
            {
                return FromRoot(root.Clone(), source);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException)
            {
                throw new ModelLoadException($"{source}: unexpected content ({e.Message}).", e);
            }
        }
    }

    /// <summary>Reads and parses a model.json file.</summary>
    public static ModelCard Load(string path)
    {
        if (!System.IO.File.Exists(path))
        {
            throw new ModelLoadException($"'{path}' not found: a model directory needs a model.json (the model card).");
        }
        return Parse(System.IO.File.ReadAllText(path), path);
    }

    private static ModelCard FromRoot(JsonElement root, string source)
    {
        var graphs = new Dictionary<string, GraphCard>(StringComparer.Ordinal);
        CollectGraphs(root, graphs, source);
        foreach (var family in new[] { "tapir", "gmrw" })
        {
            if (root.TryGetProperty(family, out var sub) && sub.ValueKind == JsonValueKind.Object)
            {
                CollectGraphs(sub, graphs, source);
            }
        }

        int width = 0, height = 0;
        if (root.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Object)
        {
            width = GetInt(input, "width");
            height = GetInt(input, "height");
        }
        foreach (var key in new[] { "resolution", "input_size" })
        {
            if (width == 0 && root.TryGetProperty(key, out var hw) && hw.ValueKind == JsonValueKind.Array && hw.GetArrayLength() == 2)
            {
                height = hw[0].GetInt32();
                width = hw[1].GetInt32();
            }
        }
        if (width == 0 && graphs.TryGetValue("encoder", out var enc) || graphs.TryGetValue("gmrw_encoder", out enc))
        {
            var frame = enc!.Inputs.FirstOrDefault(t => t.Name == "frame");
            if (frame is { Shape.Count: 4 } && frame.Shape[2] > 0 && frame.Shape[3] > 0)
            {
                height = (int)frame.Shape[2];
                width = (int)frame.Shape[3];
            }
        }

        double? fb = null;
        if (root.TryGetProperty("gmrw", out var gmrw) && gmrw.ValueKind == JsonValueKind.Object &&
            gmrw.TryGetProperty("fb_threshold_px", out var t1) && t1.ValueKind == JsonValueKind.Number)
        {
            fb = t1.GetDouble();
        }
        else if (root.TryGetProperty("fb_threshold_px", out var t2) && t2.ValueKind == JsonValueKind.Number)
        {
            fb = t2.GetDouble();
        }

        return new ModelCard(root, GetString(root, "name"), GetString(root, "description"), GetInt(root, "format_version"),
            width, height, graphs, fb);
    }

    private static void CollectGraphs(JsonElement parent, Dictionary<string, GraphCard> graphs, string source)
    {
        if (!parent.TryGetProperty("graphs", out var g))
        {
            return;
        }
        if (g.ValueKind != JsonValueKind.Object)
        {
            throw new ModelLoadException($"{source}: 'graphs' must be an object keyed by graph name, found {g.ValueKind}.");
        }
        foreach (var prop in g.EnumerateObject())
        {
            var v = prop.Value;
            if (v.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException($"{source}: graphs.{prop.Name} must be an object, found {v.ValueKind}.");
            }
            var file = GetString(v, "file") ?? prop.Name + ".onnx";
            graphs[prop.Name] = new GraphCard(prop.Name, file, GetString(v, "sha256")?.ToLowerInvariant(),
                Tensors(v, "inputs", source, prop.Name), Tensors(v, "outputs", source, prop.Name));
        }
    }

    private static IReadOnlyList<TensorCard> Tensors(JsonElement graph, string key, string source, string graphName)
    {
        if (!graph.TryGetProperty(key, out var arr) || arr.ValueKind != JsonValueKind.Array)
        {
            return [];
        }
        var list = new List<TensorCard>();
        foreach (var t in arr.EnumerateArray())
        {
            var name = GetString(t, "name") ?? throw new ModelLoadException($"{source}: graphs.{graphName}.{key} has a tensor without a name.");
            var shape = new List<long>();
            var names = new List<string>();
            if (t.TryGetProperty("shape", out var s) && s.ValueKind == JsonValueKind.Array)
            {
                foreach (var d in s.EnumerateArray())
                {
                    if (d.ValueKind == JsonValueKind.Number)
                    {
                        shape.Add(d.GetInt64());
                        names.Add(string.Empty);
                    }
                    else
                    {
                        shape.Add(-1);
                        names.Add(d.ValueKind == JsonValueKind.String ? d.GetString()! : "?");
                    }
                }
            }
            list.Add(new TensorCard(name, GetString(t, "dtype") ?? "float32", shape, names, GetString(t, "semantics") ?? string.Empty));
        }
        return list;
    }

    private static string? GetString(JsonElement e, string key) =>
        e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int GetInt(JsonElement e, string key) =>
        e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : 0;
}
