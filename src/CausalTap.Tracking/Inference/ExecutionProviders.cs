using Microsoft.ML.OnnxRuntime;

namespace CausalTap.Tracking.Inference;

/// <summary>
/// The execution providers CausalTap offers (<c>--provider auto|cpu|cuda|tensorrt</c>), their ONNX Runtime names,
/// and what this machine can load. ORT's <see cref="OrtEnv.GetAvailableProviders"/> lists what the library was
/// built with, not what loads: the CUDA and TensorRT providers are plugin libraries that need CUDA 13, cuDNN 9 and
/// (TensorRT) libnvinfer 10 at run time. So "loads here" is decided by appending the provider to throwaway
/// session options, which is where ORT dlopens the plugin (<see cref="Probe"/>).
/// </summary>
public static class ExecutionProviders
{
    /// <summary>TensorRT, else CUDA, else CPU, whichever loads first (<see cref="ProviderPolicy"/>).</summary>
    public const string Auto = "auto";
    /// <summary>ONNX Runtime's CPU provider (always there).</summary>
    public const string Cpu = "cpu";
    /// <summary>NVIDIA CUDA (CUDA 13 + cuDNN 9).</summary>
    public const string Cuda = "cuda";
    /// <summary>NVIDIA TensorRT (libnvinfer 10), with CUDA for the nodes TensorRT does not take.</summary>
    public const string TensorRt = "tensorrt";

    /// <summary>ORT name of the CPU provider.</summary>
    public const string CpuOrtName = "CPUExecutionProvider";
    /// <summary>ORT name of the CUDA provider.</summary>
    public const string CudaOrtName = "CUDAExecutionProvider";
    /// <summary>ORT name of the TensorRT provider.</summary>
    public const string TensorRtOrtName = "TensorrtExecutionProvider";

    /// <summary>Every value <c>--provider</c> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = [Auto, Cpu, Cuda, TensorRt];

    /// <summary>The concrete providers in the order <see cref="Auto"/> tries them.</summary>
    public static IReadOnlyList<string> AutoOrder { get; } = [TensorRt, Cuda, Cpu];

    /// <summary>The version of the loaded ONNX Runtime library, e.g. "1.32.0".</summary>
    public static string OrtVersion => OrtEnv.Instance().GetVersionString();

    /// <summary>ORT names of the providers the library was built with (not all of them may load here).</summary>
    public static IReadOnlyList<string> BuiltIn => OrtEnv.Instance().GetAvailableProviders();

    /// <summary>
    /// A provider name as the user typed it, normalised ("CUDA" -> "cuda", "CUDAExecutionProvider" -> "cuda");
    /// throws <see cref="ArgumentException"/> naming the accepted values for anything else.
    /// </summary>
    public static string Normalize(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" or Auto => Auto,
        Cpu or "cpuexecutionprovider" => Cpu,
        Cuda or "cudaexecutionprovider" => Cuda,
        TensorRt or "trt" or "tensorrtexecutionprovider" => TensorRt,
        _ => throw new ArgumentException($"Unknown execution provider '{name}': use one of {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>"cuda" -> "CUDAExecutionProvider" and so on (concrete providers only).</summary>
    public static string OrtName(string provider) => Normalize(provider) switch
    {
        Cpu => CpuOrtName,
        Cuda => CudaOrtName,
        TensorRt => TensorRtOrtName,
        _ => throw new ArgumentException("'auto' is not a provider; choose one with ProviderPolicy.", nameof(provider)),
    };

    /// <summary>"CUDAExecutionProvider" -> "cuda"; names CausalTap does not offer pass through unchanged.</summary>
    public static string ShortName(string ortName) => ortName switch
    {
        CpuOrtName => Cpu,
        CudaOrtName => Cuda,
        TensorRtOrtName => TensorRt,
        _ => ortName,
    };

    /// <summary>
    /// Appends the concrete <paramref name="provider"/> to <paramref name="options"/>. Throws
    /// <see cref="ProviderUnavailableException"/> with ORT's reason when its library (or one it needs) does not load.
    /// </summary>
    public static void Append(SessionOptions options, string provider)
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = Normalize(provider);
        if (name == Cpu)
        {
            return; // ORT registers the CPU provider last on its own.
        }
        if (name == Auto)
        {
            throw new ArgumentException("'auto' is not a provider; choose one with ProviderPolicy.", nameof(provider));
        }
        if (!BuiltIn.Contains(OrtName(name)))
        {
            throw new ProviderUnavailableException(name,
                $"this ONNX Runtime {OrtVersion} build has no {OrtName(name)} (it has {string.Join(", ", BuiltIn)})");
        }
        try
        {
            if (name == TensorRt)
            {
                options.AppendExecutionProvider_Tensorrt(0);
            }
            // TensorRT hands the nodes it cannot take to the next provider: CUDA, then CPU.
            options.AppendExecutionProvider_CUDA(0);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ProviderUnavailableException(name, Reason(name, e), e);
        }
    }

    /// <summary>
    /// Null when <paramref name="provider"/> loads on this machine, else why not (ORT's reason and what it needs).
    /// Probed once per process: whether a library loads does not change, and each failed try makes ORT log to stderr.
    /// </summary>
    public static string? Probe(string provider) => ProbeResults.GetOrAdd(Normalize(provider), static name =>
    {
        using var options = new SessionOptions();
        try
        {
            Append(options, name);
            return "";
        }
        catch (ProviderUnavailableException e)
        {
            return e.Reason;
        }
    }) is { Length: > 0 } reason ? reason : null;

    /// <summary>Probe results by provider ("" = loads).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> ProbeResults = new();

    /// <summary>
    /// Every provider the library was built with and whether it loads here (probed by appending it), for
    /// <c>--version</c> and the server's startup log.
    /// </summary>
    public static IReadOnlyList<ProviderStatus> Survey() =>
        [.. BuiltIn.Select(ort => ShortName(ort) is var name && Names.Contains(name)
            ? new ProviderStatus(name, ort, Probe(name))
            : new ProviderStatus(name, ort, "not offered by CausalTap"))];

    /// <summary>"cpu (loads), cuda (does not load: ...)" for one log line.</summary>
    public static string Describe(IEnumerable<ProviderStatus> survey) =>
        string.Join(", ", survey.Select(p => p.Loads ? $"{p.Name} (loads)" : $"{p.Name} (does not load: {p.Unavailable})"));

    /// <summary>Where libonnxruntime.so and its provider libraries are: runtimes/linux-x64/native/ of a portable build, else the app folder.</summary>
    public static string NativeDirectory
    {
        get
        {
            var portable = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
            return File.Exists(Path.Combine(portable, "libonnxruntime.so")) ? portable : AppContext.BaseDirectory;
        }
    }

    /// <summary>ORT's message ("Failed to load shared library ...") plus the run-time libraries the provider needs.</summary>
    private static string Reason(string provider, OnnxRuntimeException e)
    {
        var message = e.Message.Trim().TrimEnd('.');
        var needs = provider == TensorRt
            ? "TensorRT needs libnvinfer 10 plus what CUDA needs: CUDA 13 (libcudart, libcublas, libcublasLt 13, libcurand 10) and cuDNN 9"
            : "CUDA needs CUDA 13 (libcudart, libcublas, libcublasLt 13, libcurand 10), cuDNN 9 and an NVIDIA driver";
        var plugin = Path.Combine(NativeDirectory, provider == TensorRt ? "libonnxruntime_providers_tensorrt.so" : "libonnxruntime_providers_cuda.so");
        var where = File.Exists(plugin)
            ? string.Empty
            : $"; {Path.GetFileName(plugin)} is not in {NativeDirectory}: only the CLI's output folder gets the GPU provider libraries";
        return $"{message} ({needs}{where})";
    }
}

/// <summary>One provider of the library and whether it loads on this machine.</summary>
/// <param name="Name">CausalTap's name (cpu, cuda, tensorrt) or ORT's for one CausalTap does not offer.</param>
/// <param name="OrtName">ORT's name (CPUExecutionProvider, ...).</param>
/// <param name="Unavailable">Null when it loads, else why not.</param>
public sealed record ProviderStatus(string Name, string OrtName, string? Unavailable)
{
    /// <summary>Whether the provider loads here.</summary>
    public bool Loads => Unavailable is null;
}

/// <summary>A provider that was named explicitly and cannot be used here; <see cref="Reason"/> says why.</summary>
public sealed class ProviderUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ProviderUnavailableException(string provider, string reason, Exception? inner = null)
        : base($"Execution provider '{provider}' cannot be used: {reason}.", inner)
    {
        Provider = provider;
        Reason = reason;
    }

    /// <summary>The provider that was asked for ("cuda", "tensorrt").</summary>
    public string Provider { get; }

    /// <summary>Why it cannot be used.</summary>
    public string Reason { get; }
}
