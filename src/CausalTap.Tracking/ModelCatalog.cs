using System.Text.Json;

namespace CausalTap.Tracking;

/// <summary>
/// The one rule for "which model" when a caller names none, shared by the server and every CLI command: the
/// configured name, else the model whose card says <c>"default": true</c>, else <see cref="BundledDefaultName"/>,
/// else the only model. Models are folders under a models root that hold a <c>model.json</c>, named by folder.
/// </summary>
public static class ModelCatalog
{
    /// <summary>Folder name of the bundled default model.</summary>
    public const string BundledDefaultName = "causaltap-default";

    /// <summary>A model's folder name (what requests and <c>--model</c> name), not the card's "name".</summary>
    public static string FolderName(ModelDirectory model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Path.GetFileName(Path.TrimEndingDirectorySeparator(model.Path));
    }

    /// <summary>Folder names under <paramref name="root"/> that hold a model.json, sorted; empty when the root is missing.</summary>
    public static IReadOnlyList<string> Names(string root) =>
        Directory.Exists(root)
            ? Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, "model.json")))
                .Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>The default model's folder name under <paramref name="root"/>, or null when nothing decides.</summary>
    /// <param name="root">the models folder.</param>
    /// <param name="configured">a name set by configuration (server option, environment); wins when given.</param>
    public static string? DefaultName(string root, string? configured = null)
    {
        if (!string.IsNullOrWhiteSpace(configured)) return configured;
        IReadOnlyList<string> names = Names(root);
        string? marked = names.FirstOrDefault(n => IsMarkedDefault(Path.Combine(root, n)));
        if (marked is not null) return marked;
        if (names.Contains(BundledDefaultName)) return BundledDefaultName;
        return names.Count == 1 ? names[0] : null;
    }

    /// <summary>Whether the card at <paramref name="directory"/>/model.json has <c>"default": true</c> (an unreadable card has not).</summary>
    public static bool IsMarkedDefault(string directory)
    {
        try
        {
            using JsonDocument card = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "model.json")));
            return card.RootElement.ValueKind == JsonValueKind.Object
                && card.RootElement.TryGetProperty("default", out JsonElement d)
                && d.ValueKind == JsonValueKind.True;
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>
/// The one rule for "which method" on a model: what a model with the given graph families can run, the method it
/// runs when none is asked for (fused with both families; TAPIR + Lucas-Kanade with TAPIR only, measured better than
/// TAPIR alone; else GMRW), and the names methods go by on the command line and in episodes.
/// </summary>
public static class TrackingMethods
{
    /// <summary>The method a model runs when none is asked for.</summary>
    public static TrackingMethod Best(bool hasTapir, bool hasGmrw) =>
        hasTapir && hasGmrw ? TrackingMethod.Fused : hasTapir ? TrackingMethod.TapirLk : TrackingMethod.Gmrw;

    /// <summary>Whether a model with these families can run <paramref name="method"/>.</summary>
    public static bool CanRun(TrackingMethod method, bool hasTapir, bool hasGmrw) => method switch
    {
        TrackingMethod.Fused => hasTapir && hasGmrw,
        TrackingMethod.Tapir or TrackingMethod.TapirLk => hasTapir,
        _ => hasGmrw,
    };

    /// <summary>
    /// The requested method, else the recorded one (an episode's) when the model can run it, else
    /// <see cref="Best"/>. The requested method is returned as asked: check it with <see cref="CanRun"/>.
    /// </summary>
    public static TrackingMethod Choose(TrackingMethod? requested, string? recorded, bool hasTapir, bool hasGmrw)
    {
        if (requested is { } asked) return asked;
        if (Parse(recorded) is { } r && CanRun(r, hasTapir, hasGmrw)) return r;
        return Best(hasTapir, hasGmrw);
    }

    /// <summary>"fused", "tapir", "gmrw" or "tapir-lk" (any case, also the proto's "TRACKING_METHOD_TAPIR"); null for anything else.</summary>
    public static TrackingMethod? Parse(string? name) =>
        name?.Trim().ToLowerInvariant().Replace("tracking_method_", "", StringComparison.Ordinal) switch
        {
            "fused" => TrackingMethod.Fused,
            "tapir" => TrackingMethod.Tapir,
            "gmrw" => TrackingMethod.Gmrw,
            "tapir-lk" or "tapir_lk" or "tapirlk" => TrackingMethod.TapirLk,
            _ => null,
        };

    /// <summary>The command-line and episode spelling of a method.</summary>
    public static string Name(TrackingMethod method) => method switch
    {
        TrackingMethod.Fused => "fused",
        TrackingMethod.Tapir => "tapir",
        TrackingMethod.Gmrw => "gmrw",
        TrackingMethod.TapirLk => "tapir-lk",
        _ => method.ToString().ToLowerInvariant(),
    };

    /// <summary>The graph families a model has, in words ("TAPIR and GMRW", "TAPIR only", ...).</summary>
    public static string Families(bool hasTapir, bool hasGmrw) => (hasTapir, hasGmrw) switch
    {
        (true, true) => "TAPIR and GMRW",
        (true, false) => "TAPIR only",
        (false, true) => "GMRW only",
        _ => "no graphs",
    };

    /// <summary>What <paramref name="method"/> needs, in words (for errors).</summary>
    public static string Needs(TrackingMethod method) => method switch
    {
        TrackingMethod.Fused => "both the TAPIR and the GMRW graphs",
        TrackingMethod.Tapir or TrackingMethod.TapirLk => "the TAPIR graphs (encoder/query/step.onnx)",
        _ => "the GMRW graphs (gmrw_encoder/gmrw_match.onnx)",
    };
}
