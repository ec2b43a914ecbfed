namespace CausalTap.Onnx;

/// <summary>
/// Everything needed to build <see cref="SessionOptions"/> for a session, as plain data, so that a session can be
/// rebuilt CPU-only when a provider that appended fine fails while the session initialises.
/// </summary>
public sealed record SessionConfig
{
    /// <summary>Intra-op threads (0 = <see cref="DefaultThreadsVariable"/> when set, else the ORT default).</summary>
    public int IntraOpNumThreads { get; init; }

    /// <summary>
    /// Environment variable with the intra-op thread count of sessions that do not set one. The test suite runs
    /// once per thread count with it (<c>CAUSALTAP_TEST_THREADS</c> in scripts/test.sh), so that no numeric test
    /// depends on how ORT splits its sums across threads.
    /// </summary>
    public const string DefaultThreadsVariable = "CAUSALTAP_ORT_THREADS";

    /// <summary>Inter-op threads (0 = ORT default).</summary>
    public int InterOpNumThreads { get; init; }

    /// <summary>Graph optimisation level.</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.EnableAll;

    /// <summary>Sequential or parallel execution.</summary>
    public ExecutionMode ExecutionMode { get; init; } = ExecutionMode.Sequential;

    /// <summary>Providers in preference order; CPU is always the last resort.</summary>
    public IReadOnlyList<ExecutionProviderRequest> Providers { get; init; } = [];

    /// <summary>Throw instead of falling back to CPU when a requested provider cannot be used.</summary>
    public bool StrictProviders { get; init; }

    /// <summary>Extra session config entries (e.g. <c>session.disable_cpu_ep_fallback</c>).</summary>
    public IReadOnlyDictionary<string, string> ConfigEntries { get; init; } = new Dictionary<string, string>();

    /// <summary>When set, profiling is written to files starting with this prefix.</summary>
    public string? ProfilingFilePrefix { get; init; }

    /// <summary>Builds options from this config, appending providers (with fallback unless strict).</summary>
    public SessionOptions CreateOptions(out ProviderSelection selection) => CreateOptions(Providers, out selection);

    /// <summary>Config key that makes session creation fail when any node would land on the CPU provider.</summary>
    public const string DisableCpuEpFallbackKey = "session.disable_cpu_ep_fallback";

    internal SessionOptions CreateOptions(IReadOnlyList<ExecutionProviderRequest> providers, out ProviderSelection selection,
        bool cpuFallback = false)
    {
        var options = new SessionOptions();
        try
        {
            int intraOp = IntraOpNumThreads != 0 ? IntraOpNumThreads
                : int.TryParse(Environment.GetEnvironmentVariable(DefaultThreadsVariable), out int fromEnv) && fromEnv > 0 ? fromEnv : 0;
            if (intraOp != 0)
            {
                options.IntraOpNumThreads = intraOp;
            }
            if (InterOpNumThreads != 0)
            {
                options.InterOpNumThreads = InterOpNumThreads;
            }
            options.GraphOptimizationLevel = GraphOptimizationLevel;
            options.ExecutionMode = ExecutionMode;
            foreach (var (key, value) in ConfigEntries)
            {
                // A CPU-only rebuild cannot honour "no CPU fallback"; keeping it would fail every node.
                if (!(cpuFallback && key == DisableCpuEpFallbackKey))
                {
                    options.AddSessionConfigEntry(key, value);
                }
            }
            if (ProfilingFilePrefix is not null)
            {
                options.EnableProfiling(ProfilingFilePrefix);
            }
            selection = options.AppendExecutionProviders(providers, StrictProviders);
            return options;
        }
        catch
        {
            options.Dispose(); // half-built options must not leak when an append throws
            throw;
        }
    }
}
