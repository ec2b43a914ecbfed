using System.CommandLine;
using System.Reflection;
using System.Text.Json;
using CausalTap.Tracking;
using CausalTap.Tracking.Inference;
using Microsoft.ML.OnnxRuntime;

namespace CausalTap.Cli;

/// <summary><c>causaltap</c>, <c>causaltap --version</c> and <c>causaltap models</c>: what is installed here.</summary>
internal static class InfoCommand
{
    public static string ToolVersion =>
        typeof(InfoCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "unknown";

    /// <summary>
    /// Version, ONNX Runtime version, the providers the library was built with and, for each, whether it loads here
    /// (ORT lists CUDA and TensorRT whether or not CUDA 13, cuDNN 9 and libnvinfer are installed; appending says).
    /// </summary>
    public static int PrintVersion(TextWriter output)
    {
        output.WriteLine($"causaltap {ToolVersion}");
        try
        {
            output.WriteLine($"onnxruntime {ExecutionProviders.OrtVersion} (Microsoft.ML.OnnxRuntime.Gpu.Linux, {ExecutionProviders.NativeDirectory})");
            IReadOnlyList<ProviderStatus> survey = ExecutionProviders.Survey();
            output.WriteLine($"execution providers: {string.Join(", ", survey.Select(p => p.OrtName))}");
            output.WriteLine($"loads here: {string.Join(", ", survey.Where(p => p.Loads).Select(p => p.Name))}");
            foreach (ProviderStatus provider in survey.Where(p => !p.Loads))
            {
                output.WriteLine($"  {provider.Name}: does not load here: {provider.Unavailable}");
            }
            return 0;
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or TypeInitializationException)
        {
            output.WriteLine($"onnxruntime: not loaded: {ex.Message}");
            output.WriteLine("Rebuild with ./scripts/setup.sh (or use ./causaltap, which runs it): libonnxruntime.so comes with the build.");
            return 1;
        }
    }

    /// <summary>What a new user sees with no arguments: versions, providers, models, and where to go next.</summary>
    public static int PrintInfo(TextWriter output)
    {
        int rc = PrintVersion(output);
        output.WriteLine();
        PrintModels(output);
        output.WriteLine();
        output.WriteLine("Commands: causaltap --help");
        return rc;
    }

    public static Command CreateModelsCommand()
    {
        var command = new Command("models", "List the model directories with their cards and check every file's sha256 against the card (exit code 1 on a problem).");
        command.SetAction(_ => PrintModels(Console.Out, verify: true));
        return command;
    }

    /// <summary>
    /// One block per model directory (a subfolder of <see cref="Paths.Models"/> with a model.json): name, description,
    /// families, input size, state per point, provenance; with <paramref name="verify"/> also the sha256 check of every
    /// file the card lists. Returns 1 when a card is unreadable or a check fails, else 0.
    /// </summary>
    private static int PrintModels(TextWriter output, bool verify = false)
    {
        string dir = Paths.Models;
        IReadOnlyList<string> models = ModelCatalog.Names(dir);
        string? envDefault = Environment.GetEnvironmentVariable(ModelResolver.DefaultModelVariable);
        string? defaultModel = models.Count == 0 && string.IsNullOrWhiteSpace(envDefault) ? null : ModelCatalog.DefaultName(dir, envDefault);
        output.WriteLine($"models in {dir}: {(models.Count == 0 ? "none yet" : models.Count.ToString())}" +
                         (defaultModel is null ? "" : $" (default: {defaultModel})"));
        int rc = 0;
        foreach (string name in models)
        {
            string model = Path.Combine(dir, name);
            ModelDirectory directory;
            try
            {
                directory = ModelDirectory.Open(model);
            }
            catch (Exception ex) when (ex is ModelLoadException or IOException or JsonException or InvalidDataException or UnauthorizedAccessException)
            {
                rc = 1;
                output.WriteLine($"  {name,-24} {DescriptionOrError(model, ex)}");
                continue;
            }
            output.WriteLine($"  {name,-24} {directory.Card.Description ?? ""}");
            output.WriteLine($"  {"",-24} {Summary(directory)}");
            if (!verify) continue;
            IReadOnlyList<string> problems = directory.VerifyChecksums();
            if (problems.Count == 0)
            {
                int files = directory.Card.Graphs.Count;
                output.WriteLine($"  {"",-24} sha256: OK ({files} file{(files == 1 ? "" : "s")})");
            }
            else
            {
                rc = 1;
                output.WriteLine($"  {"",-24} sha256: FAILED");
                foreach (string problem in problems) output.WriteLine($"  {"",-24}   {problem}");
            }
        }
        return rc;
    }

    /// <summary>Families (with presets), model input size, TAPIR state per point and provenance of a model.</summary>
    private static string Summary(ModelDirectory model)
    {
        var parts = new List<string>();
        var families = new List<string>();
        JsonElement root = model.Card.Root;
        string Preset(string family) =>
            root.ValueKind == JsonValueKind.Object && root.TryGetProperty(family, out JsonElement f) && f.ValueKind == JsonValueKind.Object
            && f.TryGetProperty("preset", out JsonElement p) && p.ValueKind == JsonValueKind.String ? $" ({p.GetString()})" : "";
        if (model.HasTapir) families.Add("tapir" + Preset("tapir"));
        if (model.HasGmrw) families.Add("gmrw" + Preset("gmrw"));
        parts.Add(families.Count == 0 ? "no graphs" : string.Join(" + ", families));
        parts.Add($"input {model.InputWidth}x{model.InputHeight}");
        if (Bench.ModelBenchmark.StateBytesPerPoint(model) is > 0 and var state) parts.Add($"state {state / 1024.0:F1} KiB/point");
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("provenance", out JsonElement prov) && prov.ValueKind == JsonValueKind.Object
            && prov.TryGetProperty("source", out JsonElement source) && source.ValueKind == JsonValueKind.String)
        {
            parts.Add($"weights: {source.GetString()}");
        }
        return string.Join(", ", parts);
    }

    /// <summary>For a card ModelDirectory rejects: its description and why, or "unreadable model.json" when it is not JSON.</summary>
    private static string DescriptionOrError(string model, Exception error)
    {
        try
        {
            using JsonDocument card = JsonDocument.Parse(File.ReadAllText(Path.Combine(model, "model.json")));
            string description = card.RootElement.ValueKind == JsonValueKind.Object && card.RootElement.TryGetProperty("description", out JsonElement d)
                ? d.GetString() ?? "" : "";
            return $"{description} [not loadable: {error.Message}]";
        }
        catch (Exception ex) when (ex is JsonException or IOException or InvalidOperationException)
        {
            return $"unreadable model.json: {ex.Message}";
        }
    }
}
