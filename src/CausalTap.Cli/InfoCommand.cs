using System.CommandLine;
using System.Reflection;
using System.Text.Json;
using CausalTap.Onnx;

namespace CausalTap.Cli;

/// <summary><c>causaltap</c>, <c>causaltap --version</c> and <c>causaltap models</c>: what is installed here.</summary>
internal static class InfoCommand
{
    public static string ToolVersion =>
        typeof(InfoCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "unknown";

    /// <summary>Version, ONNX Runtime version and the execution providers the loaded library offers.</summary>
    public static int PrintVersion(TextWriter output)
    {
        output.WriteLine($"causaltap {ToolVersion}");
        try
        {
            OrtEnvironment env = OrtEnvironment.Instance;
            output.WriteLine($"onnxruntime {env.Version} ({env.LibraryPath})");
            // ORT lists CUDA/TensorRT even when their plugin libraries are absent; say which ones really work.
            var listed = env.GetAvailableProviders();
            var usable = listed.Where(p => ExecutionProviders.GetMissingPluginFiles(p, env.LibraryPath).Count == 0).ToList();
            output.WriteLine($"execution providers: {string.Join(", ", usable)}");
            foreach (string provider in listed.Except(usable))
            {
                string missing = string.Join(", ", ExecutionProviders.GetMissingPluginFiles(provider, env.LibraryPath));
                output.WriteLine($"  {provider}: listed by the library but not usable here ({missing} missing); point CAUSALTAP_ORT_LIB at an ORT build with it");
            }
            return 0;
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or OnnxRuntimeLibraryException)
        {
            output.WriteLine($"onnxruntime: not loaded: {ex.Message}");
            output.WriteLine("Run ./scripts/setup.sh (or use ./causaltap, which runs it) to install the native library.");
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
        var command = new Command("models", "List the model directories and their cards.");
        command.SetAction(_ => PrintModels(Console.Out));
        return command;
    }

    private static int PrintModels(TextWriter output)
    {
        string dir = Paths.Models;
        var models = Directory.Exists(dir)
            ? Directory.GetDirectories(dir).Where(d => File.Exists(Path.Combine(d, "model.json"))).Order().ToList()
            : new List<string>();
        output.WriteLine($"models in {dir}: {(models.Count == 0 ? "none yet" : models.Count.ToString())}");
        foreach (string model in models)
        {
            string summary;
            try
            {
                using JsonDocument card = JsonDocument.Parse(File.ReadAllText(Path.Combine(model, "model.json")));
                summary = card.RootElement.TryGetProperty("description", out JsonElement d) ? d.GetString() ?? "" : "";
            }
            catch (JsonException ex)
            {
                summary = $"unreadable model.json: {ex.Message}";
            }
            output.WriteLine($"  {Path.GetFileName(model),-24} {summary}");
        }
        return 0;
    }
}
