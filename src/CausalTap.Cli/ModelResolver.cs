using System.Text.Json;
using CausalTap.Tracking;

namespace CausalTap.Cli;

/// <summary>
/// Turns the <c>--model</c> argument into a <see cref="ModelDirectory"/>: a name under <see cref="Paths.Models"/>
/// or a directory path. Without <c>--model</c> the default is, in order: <c>$CAUSALTAP_DEFAULT_MODEL</c> (a name
/// or a path), then <see cref="ModelCatalog.DefaultName"/> (the model whose card says <c>"default": true</c>, the
/// bundled default, or the only model). Anything else is an error that lists the available models.
/// </summary>
internal static class ModelResolver
{
    /// <summary>Environment variable naming the default model (a name under models/ or a path).</summary>
    public const string DefaultModelVariable = "CAUSALTAP_DEFAULT_MODEL";

    /// <summary>Resolves <paramref name="model"/> (null = the default); throws <see cref="CliException"/> with the choices.</summary>
    public static ModelDirectory Resolve(string? model)
    {
        string root = Paths.Models;
        if (string.IsNullOrWhiteSpace(model))
        {
            model = ModelCatalog.DefaultName(root, Environment.GetEnvironmentVariable(DefaultModelVariable));
        }
        if (model is null)
        {
            IReadOnlyList<string> names = ModelCatalog.Names(root);
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
            IReadOnlyList<string> names = ModelCatalog.Names(root);
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

    /// <summary>Parses <c>--method</c>; null picks the model's best (<see cref="TrackingMethods.Best"/>).</summary>
    public static TrackingMethod ResolveMethod(string? method, ModelDirectory model)
    {
        TrackingMethod? asked = null;
        if (!string.IsNullOrWhiteSpace(method))
        {
            asked = TrackingMethods.Parse(method) ?? throw new CliException($"unknown --method '{method}' (expected fused, tapir, gmrw or tapir-lk)");
        }
        TrackingMethod chosen = TrackingMethods.Choose(asked, null, model.HasTapir, model.HasGmrw);
        if (!TrackingMethods.CanRun(chosen, model.HasTapir, model.HasGmrw))
        {
            throw new CliException($"--method {TrackingMethods.Name(chosen)} needs {TrackingMethods.Needs(chosen)}, but model '{ModelCatalog.FolderName(model)}' has {TrackingMethods.Families(model.HasTapir, model.HasGmrw)}");
        }
        return chosen;
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
