using System.Text.Json;
using CausalTap.Tracking;

namespace CausalTap.Cli;

/// <summary>
/// Turns the <c>--model</c> argument into a <see cref="ModelDirectory"/>: a name under <see cref="Paths.Models"/>
/// or a directory path. Without <c>--model</c> the default is, in order: <c>$CAUSALTAP_DEFAULT_MODEL</c> (a name
/// or a path), the model whose card says <c>"default": true</c>, the model named <see cref="DefaultModelName"/>,
/// or the only model when there is exactly one. Anything else is an error that lists the available models.
/// </summary>
internal static class ModelResolver
{
    /// <summary>Environment variable naming the default model (a name under models/ or a path).</summary>
    public const string DefaultModelVariable = "CAUSALTAP_DEFAULT_MODEL";

    /// <summary>Name of the bundled default model directory (used when it exists and nothing else decides).</summary>
    public const string DefaultModelName = "causaltap-default";

    /// <summary>Resolves <paramref name="model"/> (null = the default); throws <see cref="CliException"/> with the choices.</summary>
    public static ModelDirectory Resolve(string? model)
    {
        string root = Paths.Models;
        if (string.IsNullOrWhiteSpace(model))
        {
            model = Environment.GetEnvironmentVariable(DefaultModelVariable) is { Length: > 0 } env ? env : null;
            model ??= FindDefault(root);
        }
        if (model is null)
        {
            IReadOnlyList<string> names = ListNames(root);
            throw new CliException(names.Count == 0
                ? $"no model found: {root} has no model directories (a folder with model.json). Put one there, set CAUSALTAP_MODELS, or pass --model DIR."
                : $"no default model: {root} has {names.Count} models ({string.Join(", ", names)}); pick one with --model NAME, " +
                  $"set {DefaultModelVariable}, or mark one \"default\": true in its model.json.");
        }

        string? path = null;
        if (LooksLikePath(model) && Directory.Exists(model))
        {
            path = model;
        }
        else if (Directory.Exists(Path.Combine(root, model)))
        {
            path = Path.Combine(root, model);
        }
        else if (Directory.Exists(model))
        {
            path = model;
        }
        if (path is null)
        {
            IReadOnlyList<string> names = ListNames(root);
            throw new CliException($"model '{model}' not found: it is neither a directory nor a model in {root}. " +
                                   (names.Count == 0 ? "No models are installed there." : $"Available models: {string.Join(", ", names)}."));
        }
        try
        {
            return ModelDirectory.Open(Path.GetFullPath(path));
        }
        catch (Exception ex) when (ex is ModelLoadException or IOException or InvalidDataException or JsonException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
        {
            throw new CliException($"model '{model}' ({Path.GetFullPath(path)}) cannot be opened: {ex.Message}");
        }
    }

    /// <summary>Parses <c>--method</c>; null picks fused when the model has both families, else the one it has.</summary>
    public static TrackingMethod ResolveMethod(string? method, ModelDirectory model)
    {
        TrackingMethod chosen;
        if (string.IsNullOrWhiteSpace(method))
        {
            chosen = model.HasTapir && model.HasGmrw ? TrackingMethod.Fused : model.HasTapir ? TrackingMethod.Tapir : TrackingMethod.Gmrw;
        }
        else
        {
            chosen = method.Trim().ToLowerInvariant() switch
            {
                "fused" => TrackingMethod.Fused,
                "tapir" => TrackingMethod.Tapir,
                "gmrw" => TrackingMethod.Gmrw,
                _ => throw new CliException($"unknown --method '{method}' (expected fused, tapir or gmrw)"),
            };
        }
        string families = (model.HasTapir, model.HasGmrw) switch
        {
            (true, true) => "TAPIR and GMRW",
            (true, false) => "TAPIR only",
            (false, true) => "GMRW only",
            _ => "no graphs",
        };
        bool ok = chosen switch
        {
            TrackingMethod.Fused => model.HasTapir && model.HasGmrw,
            TrackingMethod.Tapir => model.HasTapir,
            _ => model.HasGmrw,
        };
        if (!ok)
        {
            throw new CliException($"--method {MethodName(chosen)} needs {(chosen == TrackingMethod.Fused ? "both the TAPIR and the GMRW graphs" : chosen == TrackingMethod.Tapir ? "the TAPIR graphs (encoder/query/step.onnx)" : "the GMRW graphs (gmrw_encoder/gmrw_match.onnx)")}, but model '{DisplayName(model)}' has {families}");
        }
        return chosen;
    }

    /// <summary>How the CLI names a model: its folder name (what --model takes), not the card's "name".</summary>
    public static string DisplayName(ModelDirectory model) => Path.GetFileName(Path.TrimEndingDirectorySeparator(model.Path));

    /// <summary>The command-line spelling of a method.</summary>
    public static string MethodName(TrackingMethod method) => method switch
    {
        TrackingMethod.Fused => "fused",
        TrackingMethod.Tapir => "tapir",
        TrackingMethod.Gmrw => "gmrw",
        _ => method.ToString().ToLowerInvariant(),
    };

    /// <summary>Names of the model directories (subfolders with a model.json) under <paramref name="root"/>, sorted.</summary>
    public static IReadOnlyList<string> ListNames(string root) =>
        ListDirectories(root).Select(d => Path.GetFileName(d)).ToList();

    /// <summary>Full paths of the subfolders of <paramref name="root"/> that hold a model.json, sorted.</summary>
    public static IReadOnlyList<string> ListDirectories(string root) =>
        Directory.Exists(root)
            ? Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, "model.json"))).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>The default model's name under <paramref name="root"/>, or null when none is marked and there is not exactly one.</summary>
    public static string? FindDefault(string root)
    {
        IReadOnlyList<string> dirs = ListDirectories(root);
        string? marked = dirs.FirstOrDefault(IsMarkedDefault);
        if (marked is not null) return Path.GetFileName(marked);
        string? named = dirs.FirstOrDefault(d => Path.GetFileName(d) == DefaultModelName);
        if (named is not null) return DefaultModelName;
        return dirs.Count == 1 ? Path.GetFileName(dirs[0]) : null;
    }

    /// <summary>Whether the card at <paramref name="dir"/>/model.json has <c>"default": true</c>.</summary>
    public static bool IsMarkedDefault(string dir)
    {
        try
        {
            using JsonDocument card = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "model.json")));
            return card.RootElement.ValueKind == JsonValueKind.Object
                && card.RootElement.TryGetProperty("default", out JsonElement d)
                && d.ValueKind == JsonValueKind.True;
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool LooksLikePath(string s) =>
        s.Contains(Path.DirectorySeparatorChar) || s.Contains(Path.AltDirectorySeparatorChar) || s.StartsWith('.');
}

/// <summary>A user error the CLI reports as one line on stderr with exit code 2 (no stack trace).</summary>
internal sealed class CliException(string message) : Exception(message)
{
    /// <summary>Exit code for user errors (bad arguments, missing files, unknown model).</summary>
    public const int ExitCode = 2;
}
