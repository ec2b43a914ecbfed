using System.CommandLine;
using CausalTap.Imaging;
using CausalTap.Imaging.Video;
using CausalTap.Tracking;
using CausalTap.Tracking.Evaluation;
using CausalTap.Tracking.Inference;
using Microsoft.ML.OnnxRuntime;

namespace CausalTap.Cli;

/// <summary>
/// The options every command that runs the tracker takes: <c>--model</c>, <c>--method</c>, <c>--provider</c>,
/// <c>--threads</c>; and the loading of the model they name.
/// </summary>
internal sealed class TrackerOptionSet
{
    public Option<string?> Model { get; } = new("--model")
    {
        Description = $"Model: a name under models/ (or $CAUSALTAP_MODELS) or a model directory. Default: ${ModelResolver.DefaultModelVariable}, the model marked \"default\", or the only one.",
    };

    public Option<string?> Method { get; } = new("--method")
    {
        Description = "Tracking method: fused (TAPIR + GMRW), tapir, gmrw or tapir-lk (Lucas-Kanade locally, TAPIR re-detection). Default: fused with both families, tapir-lk with TAPIR only.",
    };

    public Option<string> Provider { get; } = CreateProviderOption(ExecutionProviders.Auto);

    public Option<int> Threads { get; } = new("--threads")
    {
        Description = $"Intra-op threads per session (0 = ${ProviderPolicy.DefaultThreadsVariable}, else the ONNX Runtime default).",
        DefaultValueFactory = _ => 0,
    };

    /// <summary>
    /// <c>--provider auto|cpu|cuda|tensorrt</c>: auto takes TensorRT, else CUDA, else CPU and says which; a named
    /// provider that does not load is an error, never a fallback.
    /// </summary>
    public static Option<string> CreateProviderOption(string defaultProvider)
    {
        var option = new Option<string>("--provider")
        {
            Description = "Execution provider: auto (TensorRT, else CUDA, else CPU, whichever loads), cpu, cuda or tensorrt. " +
                          "A named provider that cannot load is an error.",
            DefaultValueFactory = _ => defaultProvider,
        };
        option.AcceptOnlyFromAmong([.. ExecutionProviders.Names]);
        return option;
    }

    public TrackerOptionSet()
    {
        Method.AcceptOnlyFromAmong("fused", "tapir", "gmrw", "tapir-lk");
        Threads.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0) r.AddError("--threads must be >= 0.");
        });
    }

    public void AddTo(Command command)
    {
        command.Add(Model);
        command.Add(Method);
        command.Add(Provider);
        command.Add(Threads);
    }

    /// <summary>Resolves and loads the model; the caller disposes the result.</summary>
    public LoadedTracker Load(ParseResult parse, TextWriter log)
    {
        ModelDirectory directory = ModelResolver.Resolve(parse.GetValue(Model));
        TrackingMethod method = ModelResolver.ResolveMethod(parse.GetValue(Method), directory);
        var options = new TrackerOptions(parse.GetValue(Provider) ?? ExecutionProviders.Auto, parse.GetValue(Threads));
        TrackerModel model = TrackerModel.Load(directory, options);
        log.WriteLine($"model {ModelCatalog.FolderName(directory)} ({directory.Path}), method {TrackingMethods.Name(method)}, input {directory.InputWidth}x{directory.InputHeight}, {model.Provider}");
        return new LoadedTracker(directory, model, method, options);
    }
}

/// <summary>A loaded model plus the method and options it runs with.</summary>
internal sealed record LoadedTracker(ModelDirectory Directory, TrackerModel Model, TrackingMethod Method, TrackerOptions Options) : IDisposable
{
    public StreamTracker CreateStream() => new(Model, Method);

    public void Dispose() => Model.Dispose();
}

/// <summary>Runs a command body and turns the errors a user can cause into one clear line and an exit code.</summary>
internal static class CliErrors
{
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (CliException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return CliException.ExitCode;
        }
        catch (ModelLoadException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return CliException.ExitCode;
        }
        catch (Exception ex) when (ex is TapVidDataException or VideoIOException or ImageDecodeException or ImagingDependencyException
                                       or FileNotFoundException or DirectoryNotFoundException or NpyFormatException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return CliException.ExitCode;
        }
        catch (ProviderUnavailableException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return CliException.ExitCode;
        }
        catch (OnnxRuntimeException ex)
        {
            Console.Error.WriteLine($"error: ONNX Runtime: {ex.Message}");
            return 1;
        }
    }
}
