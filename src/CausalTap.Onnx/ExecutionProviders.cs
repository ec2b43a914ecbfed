using CausalTap.Onnx.Native;

namespace CausalTap.Onnx;

/// <summary>One requested execution provider: a short name ("cuda", "webgpu", ...) and its provider options.</summary>
/// <param name="Name">Short name (<see cref="ExecutionProviders.Cuda"/>, ...) or any name ORT's generic append accepts.</param>
/// <param name="Options">Provider options as ORT's key/value strings (e.g. "device_id" = "0").</param>
public sealed record ExecutionProviderRequest(string Name, IReadOnlyDictionary<string, string>? Options = null)
{
    /// <summary>A request with no provider options.</summary>
    public static implicit operator ExecutionProviderRequest(string name) => new(name);
}

/// <summary>What provider selection actually did: the providers registered and why any request was dropped.</summary>
public sealed class ProviderSelection
{
    internal ProviderSelection(IReadOnlyList<string> requested, IReadOnlyList<string> providers, IReadOnlyList<string> warnings)
    {
        Requested = requested;
        Providers = providers;
        Warnings = warnings;
    }

    /// <summary>The provider names as requested, in order.</summary>
    public IReadOnlyList<string> Requested { get; }

    /// <summary>ORT names of the providers the session uses, in preference order; always ends with CPU.</summary>
    public IReadOnlyList<string> Providers { get; }

    /// <summary>One message per dropped provider: which, why (ORT's message) and what is available.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>True when at least one requested provider was dropped in favour of the remaining ones / CPU.</summary>
    public bool UsedFallback => Warnings.Count > 0;

    internal ProviderSelection WithFallbackToCpu(string warning) =>
        new(Requested, [ExecutionProviders.CpuOrtName], [.. Warnings, warning]);

    /// <inheritdoc />
    public override string ToString() =>
        $"providers: {string.Join(", ", Providers)}" + (UsedFallback ? $" ({Warnings.Count} warning(s))" : string.Empty);
}

/// <summary>Execution provider names and the append logic for each (CUDA/TensorRT via their V2 options, the rest generic).</summary>
public static unsafe class ExecutionProviders
{
    /// <summary>CPU (always present, registered implicitly after all others).</summary>
    public const string Cpu = "cpu";
    /// <summary>NVIDIA CUDA.</summary>
    public const string Cuda = "cuda";
    /// <summary>NVIDIA TensorRT.</summary>
    public const string TensorRt = "tensorrt";
    /// <summary>WebGPU (Dawn; Vulkan on Linux).</summary>
    public const string WebGpu = "webgpu";

    /// <summary>ORT name of the CPU provider.</summary>
    public const string CpuOrtName = "CPUExecutionProvider";
    /// <summary>ORT name of the CUDA provider.</summary>
    public const string CudaOrtName = "CUDAExecutionProvider";
    /// <summary>ORT name of the TensorRT provider.</summary>
    public const string TensorRtOrtName = "TensorrtExecutionProvider";
    /// <summary>ORT name of the WebGPU provider.</summary>
    public const string WebGpuOrtName = "WebGpuExecutionProvider";

    /// <summary>The short names this binding knows.</summary>
    public static IReadOnlyList<string> KnownNames { get; } = [Cpu, Cuda, TensorRt, WebGpu];

    /// <summary>Maps a short name (case-insensitive) or an ORT provider name to the ORT provider name.</summary>
    public static string ToOrtName(string name) => name.Trim().ToLowerInvariant() switch
    {
        Cpu or "cpuexecutionprovider" => CpuOrtName,
        Cuda or "cudaexecutionprovider" => CudaOrtName,
        TensorRt or "trt" or "tensorrtexecutionprovider" => TensorRtOrtName,
        WebGpu or "webgpuexecutionprovider" => WebGpuOrtName,
        _ => name,
    };

    /// <summary>Appends one provider or throws <see cref="ExecutionProviderException"/>; returns its ORT name.</summary>
    internal static string Append(SessionOptions options, string name, IReadOnlyDictionary<string, string>? providerOptions)
    {
        var ortName = ToOrtName(name);
        if (ortName == CpuOrtName)
        {
            return ortName; // ORT always registers CPU last; nothing to append.
        }

        var env = OrtEnvironment.Instance;
        var available = env.GetAvailableProviders();
        var known = ortName is CudaOrtName or TensorRtOrtName or WebGpuOrtName;
        if (known && !available.Contains(ortName))
        {
            throw new ExecutionProviderException(name, ErrorCode.NotImplemented,
                $"Execution provider '{name}' ({ortName}) is not built into the ONNX Runtime library '{env.LibraryPath}' " +
                $"(version {env.Version}). Available providers: {string.Join(", ", available)}.");
        }

        try
        {
            switch (ortName)
            {
                case CudaOrtName:
                    AppendCuda(options, providerOptions);
                    break;
                case TensorRtOrtName:
                    AppendTensorRt(options, providerOptions);
                    break;
                default:
                    // The generic entry point takes ORT's short provider name ("WebGPU", "XNNPACK", ...).
                    AppendGeneric(options, ortName == WebGpuOrtName ? "WebGPU" : name, providerOptions);
                    break;
            }
        }
        catch (OnnxRuntimeException e) when (e is not ExecutionProviderException)
        {
            throw new ExecutionProviderException(name, e.ErrorCode,
                $"Execution provider '{name}' ({ortName}) could not be added: {e.NativeMessage.TrimEnd('.', ' ')}.{MissingPluginHint(ortName, env)} " +
                $"Available providers in '{env.LibraryPath}' (ONNX Runtime {env.Version}): {string.Join(", ", available)}.", e);
        }
        return ortName;
    }

    /// <summary>
    /// CUDA and TensorRT live in separate plugin libraries that ORT looks for next to libonnxruntime, yet ORT lists
    /// them as available whether or not those files exist. Returns the plugin files a provider needs that are missing
    /// next to <paramref name="libraryPath"/> (empty for providers built into the main library, e.g. CPU and WebGPU).
    /// </summary>
    public static IReadOnlyList<string> GetMissingPluginFiles(string ortName, string libraryPath)
    {
        var plugin = ortName switch
        {
            CudaOrtName => "libonnxruntime_providers_cuda.so",
            TensorRtOrtName => "libonnxruntime_providers_tensorrt.so",
            _ => null,
        };
        if (plugin is null)
        {
            return [];
        }
        var dir = Path.GetDirectoryName(libraryPath) ?? ".";
        return new[] { "libonnxruntime_providers_shared.so", plugin }.Where(f => !File.Exists(Path.Combine(dir, f))).ToArray();
    }

    /// <summary>ORT's status only says "Failed to load shared library", so name the files that are missing.</summary>
    private static string MissingPluginHint(string ortName, OrtEnvironment env)
    {
        if (ortName is not (CudaOrtName or TensorRtOrtName))
        {
            return string.Empty;
        }
        var dir = Path.GetDirectoryName(env.LibraryPath) ?? ".";
        var missing = GetMissingPluginFiles(ortName, env.LibraryPath);
        return missing.Count == 0
            ? $" (its plugin library is present in '{dir}'; check that its CUDA/cuDNN/TensorRT dependencies can be loaded.)"
            : $" ({string.Join(" and ", missing)} not found in '{dir}': this ONNX Runtime build has no {ortName} plugin installed.)";
    }

    internal static ProviderSelection AppendAll(SessionOptions options, IEnumerable<ExecutionProviderRequest> requests, bool strict)
    {
        var requested = new List<string>();
        var warnings = new List<string>();
        foreach (var request in requests)
        {
            requested.Add(request.Name);
            try
            {
                options.AppendExecutionProvider(request.Name, request.Options);
            }
            catch (ExecutionProviderException e) when (!strict)
            {
                warnings.Add(e.Message + " Falling back to " + string.Join(", ", [.. options.AppendedProviders, CpuOrtName]) + ".");
            }
        }
        return new ProviderSelection(requested, [.. options.AppendedProviders, CpuOrtName], warnings);
    }

    private static void AppendGeneric(SessionOptions options, string providerName, IReadOnlyDictionary<string, string>? providerOptions)
    {
        using var name = new NativeUtf8(providerName);
        using var kv = new NativeKeyValues(providerOptions);
        NativeApiStatus.VerifySuccess(OrtEnvironment.Api.SessionOptionsAppendExecutionProvider(
            options.Native, name.Pointer, kv.Keys, kv.Values, kv.Count));
    }

    private static void AppendCuda(SessionOptions options, IReadOnlyDictionary<string, string>? providerOptions)
    {
        var api = OrtEnvironment.Api;
        IntPtr raw;
        NativeApiStatus.VerifySuccess(api.CreateCUDAProviderOptions(&raw));
        using var cuda = new CudaProviderOptionsHandle(raw);
        using var kv = new NativeKeyValues(providerOptions);
        if (kv.Count > 0)
        {
            NativeApiStatus.VerifySuccess(api.UpdateCUDAProviderOptions(raw, kv.Keys, kv.Values, kv.Count));
        }
        NativeApiStatus.VerifySuccess(api.SessionOptionsAppendExecutionProvider_CUDA_V2(options.Native, raw));
    }

    private static void AppendTensorRt(SessionOptions options, IReadOnlyDictionary<string, string>? providerOptions)
    {
        var api = OrtEnvironment.Api;
        IntPtr raw;
        NativeApiStatus.VerifySuccess(api.CreateTensorRTProviderOptions(&raw));
        using var trt = new TensorRtProviderOptionsHandle(raw);
        using var kv = new NativeKeyValues(providerOptions);
        if (kv.Count > 0)
        {
            NativeApiStatus.VerifySuccess(api.UpdateTensorRTProviderOptions(raw, kv.Keys, kv.Values, kv.Count));
        }
        NativeApiStatus.VerifySuccess(api.SessionOptionsAppendExecutionProvider_TensorRT_V2(options.Native, raw));
    }
}
