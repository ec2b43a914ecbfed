using System.Runtime.InteropServices;
using CausalTap.Onnx.Native;

namespace CausalTap.Onnx;

/// <summary>
/// Owned <c>OrtSessionOptions</c>. Setters call the native setter first and keep a managed copy only when it
/// succeeded, so the getters always describe what ORT was told.
/// </summary>
public sealed unsafe class SessionOptions : SafeHandle
{
    private int _intraOpThreads;
    private int _interOpThreads;
    private GraphOptimizationLevel _optimizationLevel = GraphOptimizationLevel.EnableAll;
    private ExecutionMode _executionMode = ExecutionMode.Sequential;
    private OrtLoggingLevel _logSeverityLevel = OrtLoggingLevel.Warning;
    private readonly List<string> _providers = [];
    private readonly Dictionary<string, string> _configEntries = [];

    /// <summary>Creates default options (ORT defaults: all optimisations, sequential, default thread counts).</summary>
    public SessionOptions() : base(IntPtr.Zero, ownsHandle: true)
    {
        IntPtr options;
        NativeApiStatus.VerifySuccess(OrtEnvironment.Api.CreateSessionOptions(&options));
        SetHandle(options);
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Threads used inside one node (0 = ORT default, one per physical core).</summary>
    public int IntraOpNumThreads
    {
        get => _intraOpThreads;
        set
        {
            NativeApiStatus.VerifySuccess(OrtEnvironment.Api.SetIntraOpNumThreads(Native, value));
            _intraOpThreads = value;
        }
    }

    /// <summary>Threads used to run independent nodes in <see cref="ExecutionMode.Parallel"/> (0 = ORT default).</summary>
    public int InterOpNumThreads
    {
        get => _interOpThreads;
        set
        {
            NativeApiStatus.VerifySuccess(OrtEnvironment.Api.SetInterOpNumThreads(Native, value));
            _interOpThreads = value;
        }
    }

    /// <summary>Graph optimisation level applied when the session loads the model.</summary>
    public GraphOptimizationLevel GraphOptimizationLevel
    {
        get => _optimizationLevel;
        set
        {
            NativeApiStatus.VerifySuccess(OrtEnvironment.Api.SetSessionGraphOptimizationLevel(Native, (int)value));
            _optimizationLevel = value;
        }
    }

    /// <summary>Sequential or parallel node execution.</summary>
    public ExecutionMode ExecutionMode
    {
        get => _executionMode;
        set
        {
            NativeApiStatus.VerifySuccess(OrtEnvironment.Api.SetSessionExecutionMode(Native, (int)value));
            _executionMode = value;
        }
    }

    /// <summary>Minimum severity of this session's log messages.</summary>
    public OrtLoggingLevel LogSeverityLevel
    {
        get => _logSeverityLevel;
        set
        {
            NativeApiStatus.VerifySuccess(OrtEnvironment.Api.SetSessionLogSeverityLevel(Native, (int)value));
            _logSeverityLevel = value;
        }
    }

    /// <summary>ORT names of the providers appended so far, in preference order (CPU is implicit and last).</summary>
    public IReadOnlyList<string> AppendedProviders => _providers;

    /// <summary>Session config entries set through <see cref="AddSessionConfigEntry"/>.</summary>
    public IReadOnlyDictionary<string, string> ConfigEntries => _configEntries;

    /// <summary>
    /// Sets a session config entry (keys from ORT's <c>onnxruntime_session_options_config_keys.h</c>), e.g.
    /// <c>session.disable_cpu_ep_fallback</c> = "1" to fail instead of silently running nodes on the CPU.
    /// </summary>
    public void AddSessionConfigEntry(string key, string value)
    {
        using var k = new NativeUtf8(key);
        using var v = new NativeUtf8(value);
        NativeApiStatus.VerifySuccess(OrtEnvironment.Api.AddSessionConfigEntry(Native, k.Pointer, v.Pointer));
        _configEntries[key] = value;
    }

    /// <summary>Writes a Chrome-trace JSON profile (per-node timings and providers) to <c>{prefix}_{date}.json</c>.</summary>
    public void EnableProfiling(string filePrefix)
    {
        using var p = new NativeUtf8(filePrefix);
        NativeApiStatus.VerifySuccess(OrtEnvironment.Api.EnableProfiling(Native, p.Pointer));
    }

    /// <summary>Turns profiling off.</summary>
    public void DisableProfiling() => NativeApiStatus.VerifySuccess(OrtEnvironment.Api.DisableProfiling(Native));

    /// <summary>
    /// Appends one execution provider by short name ("cpu", "cuda", "tensorrt", "webgpu") with provider options.
    /// Throws <see cref="OnnxRuntimeException"/> with ORT's message when the provider cannot be appended.
    /// </summary>
    public void AppendExecutionProvider(string name, IReadOnlyDictionary<string, string>? options = null)
    {
        var ortName = ExecutionProviders.Append(this, name, options);
        if (ortName != ExecutionProviders.CpuOrtName && !_providers.Contains(ortName))
        {
            _providers.Add(ortName);
        }
    }

    /// <summary>
    /// Appends <paramref name="requests"/> in order. A provider that is not available or fails to append is
    /// skipped with a warning naming the provider, ORT's reason and the available providers (CPU takes over),
    /// unless <paramref name="strict"/> is set, in which case <see cref="ExecutionProviderException"/> is thrown.
    /// </summary>
    public ProviderSelection AppendExecutionProviders(IEnumerable<ExecutionProviderRequest> requests, bool strict = false) =>
        ExecutionProviders.AppendAll(this, requests, strict);

    internal IntPtr Native
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        OrtEnvironment.Api.ReleaseSessionOptions(handle);
        return true;
    }
}
