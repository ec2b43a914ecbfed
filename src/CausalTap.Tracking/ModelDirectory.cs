using System.Security.Cryptography;

namespace CausalTap.Tracking;

/// <summary>
/// A model folder (<c>models/&lt;name&gt;/</c>): <c>model.json</c> (the card) plus the exported graphs —
/// <c>encoder.onnx</c>, <c>query.onnx</c>, <c>step.onnx</c> (TAPIR family) and/or <c>gmrw_encoder.onnx</c>,
/// <c>gmrw_match.onnx</c> (GMRW). A family is present when the card lists all its graphs (or, for a card without a
/// <c>graphs</c> table, when all its files exist under their default names).
/// </summary>
public sealed class ModelDirectory
{
    private ModelDirectory(string path, ModelCard card)
    {
        Path = path;
        Card = card;
        Name = card.Name is { Length: > 0 } n ? n : System.IO.Path.GetFileName(path.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        HasTapir = HasFamily(ModelCard.TapirGraphs);
        HasGmrw = HasFamily(ModelCard.GmrwGraphs);
    }

    /// <summary>Card name, else the folder name.</summary>
    public string Name { get; }

    /// <summary>Absolute path of the folder.</summary>
    public string Path { get; }

    /// <summary>The parsed model.json.</summary>
    public ModelCard Card { get; }

    /// <summary>encoder + query + step are present.</summary>
    public bool HasTapir { get; }

    /// <summary>gmrw_encoder + gmrw_match are present.</summary>
    public bool HasGmrw { get; }

    /// <summary>Model input width (pixels).</summary>
    public int InputWidth => Card.InputWidth;

    /// <summary>Model input height (pixels).</summary>
    public int InputHeight => Card.InputHeight;

    /// <summary>
    /// Every subfolder of <paramref name="modelsRoot"/> holding a model.json that opens, sorted by folder name.
    /// Folders whose card cannot be read are skipped and described in <paramref name="problems"/> when given.
    /// </summary>
    public static IReadOnlyList<ModelDirectory> List(string modelsRoot, ICollection<string>? problems = null)
    {
        if (!Directory.Exists(modelsRoot))
        {
            throw new DirectoryNotFoundException($"Models folder '{System.IO.Path.GetFullPath(modelsRoot)}' does not exist.");
        }
        var result = new List<ModelDirectory>();
        foreach (var dir in Directory.GetDirectories(modelsRoot).Order(StringComparer.Ordinal))
        {
            if (!File.Exists(System.IO.Path.Combine(dir, "model.json")))
            {
                continue;
            }
            try
            {
                result.Add(Open(dir));
            }
            catch (ModelLoadException e)
            {
                problems?.Add(e.Message);
            }
        }
        return result;
    }

    /// <summary>Opens a model folder; <see cref="ModelLoadException"/> says what is wrong when it is not one.</summary>
    public static ModelDirectory Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(full))
        {
            throw new ModelLoadException($"Model directory '{full}' does not exist.");
        }
        var cardPath = System.IO.Path.Combine(full, "model.json");
        if (!File.Exists(cardPath))
        {
            throw new ModelLoadException($"'{full}' is not a model directory: it has no model.json (the model card).");
        }
        return new ModelDirectory(full, ModelCard.Load(cardPath));
    }

    /// <summary>Absolute path of a graph by key (encoder, query, step, gmrw_encoder, gmrw_match).</summary>
    public string GraphPath(string key) =>
        System.IO.Path.Combine(Path, Card.Graphs.TryGetValue(key, out var g) ? g.File : key + ".onnx");

    /// <summary>
    /// Checks every graph the card lists (or, without a table, every default graph file present): missing files and
    /// sha256 mismatches. Returns one line per problem; empty means OK.
    /// </summary>
    public IReadOnlyList<string> VerifyChecksums()
    {
        var problems = new List<string>();
        if (Card.Graphs.Count == 0)
        {
            problems.Add($"{Name}: model.json lists no graphs, so no checksum can be verified.");
            return problems;
        }
        foreach (var graph in Card.Graphs.Values.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var file = GraphPath(graph.Key);
            if (!File.Exists(file))
            {
                problems.Add($"{graph.File}: missing (listed in model.json as '{graph.Key}').");
                continue;
            }
            if (graph.Sha256 is null)
            {
                problems.Add($"{graph.File}: model.json gives no sha256.");
                continue;
            }
            string actual;
            using (var stream = File.OpenRead(file))
            {
                actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            }
            if (actual != graph.Sha256)
            {
                problems.Add($"{graph.File}: sha256 mismatch (model.json {graph.Sha256}, file {actual}).");
            }
        }
        return problems;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name} ({InputWidth}x{InputHeight}; {(HasTapir ? "tapir" : "")}{(HasTapir && HasGmrw ? "+" : "")}{(HasGmrw ? "gmrw" : "")})";

    private bool HasFamily(IReadOnlyList<string> keys) =>
        Card.Graphs.Count > 0
            ? keys.All(Card.Graphs.ContainsKey)
            : keys.All(k => File.Exists(System.IO.Path.Combine(Path, k + ".onnx")));
}
