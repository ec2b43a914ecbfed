using Microsoft.ML.OnnxRuntime;

namespace CausalTap.Tracking.Inference;

/// <summary>
/// How the ONNX Runtime sessions of a model are created: the provider, threads and graph options, as plain data.
/// </summary>
/// <param name="Provider">auto, cpu, cuda or tensorrt (<see cref="ExecutionProviders"/>).</param>
/// <param name="IntraOpThreads">Threads per run; 0 = <see cref="ProviderPolicy.DefaultThreadsVariable"/> when set, else ORT's default.</param>
public sealed record InferenceSettings(string Provider = ExecutionProviders.Cpu, int IntraOpThreads = 0)
{
    /// <summary>Graph optimisation level (onnx-run --optimization).</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>Fail session creation when a node would land on the CPU instead of the chosen GPU provider (ignored on the CPU).</summary>
    public bool DisableCpuFallback { get; init; }

    /// <summary>ORT's verbose log on stderr (shows where each node is placed).</summary>
    public bool VerboseLog { get; init; }

    /// <summary>Let idle intra-op threads spin for the next op (ORT's default; off here, see <see cref="ProviderPolicy.CreateOptions"/>).</summary>
    public bool IntraOpSpinning { get; init; }
}

/// <summary>What <see cref="ProviderPolicy.Choose"/> decided: the provider that runs and why others were passed over.</summary>
/// <param name="Requested">The provider asked for (auto, cpu, cuda, tensorrt).</param>
/// <param name="Provider">The provider the sessions use (cpu, cuda, tensorrt).</param>
/// <param name="Skipped">For auto: one line per provider tried before <paramref name="Provider"/> and why it did not load.</param>
public sealed record ProviderChoice(string Requested, string Provider, IReadOnlyList<string> Skipped)
{
    /// <summary>One line for logs: "provider cuda (auto; skipped tensorrt: ...)".</summary>
    public override string ToString() =>
        Requested == ExecutionProviders.Auto
            ? $"provider {Provider} (auto{(Skipped.Count == 0 ? "" : "; skipped " + string.Join("; ", Skipped))})"
            : $"provider {Provider}";
}

/// <summary>
/// The one place that decides which execution provider runs and builds <see cref="SessionOptions"/>.
/// <para><b>auto</b> tries TensorRT, then CUDA, then CPU, and reports what it skipped and why. An <b>explicit</b>
/// provider that cannot load is a <see cref="ProviderUnavailableException"/> with ORT's reason: never a silent fallback.</para>
/// <para><b>Threads.</b> Intra-op threads come from the settings, else from <see cref="DefaultThreadsVariable"/>,
/// else ORT's default (one per core).</para>
/// </summary>
public static class ProviderPolicy
{
    /// <summary>
    /// Environment variable with the intra-op thread count of sessions that set none. The test suite runs once per
    /// thread count with it (<c>CAUSALTAP_TEST_THREADS</c> in scripts/test.sh), so that no numeric test depends on how
    /// ORT splits its sums across threads.
    /// </summary>
    public const string DefaultThreadsVariable = "CAUSALTAP_ORT_THREADS";

    /// <summary>ORT's session config key that turns "node placed on the CPU" into a session creation error.</summary>
    public const string DisableCpuEpFallbackKey = "session.disable_cpu_ep_fallback";

    /// <summary>ORT session config key: whether idle intra-op threads spin ("1", ORT's default) or sleep ("0").</summary>
    public const string AllowSpinningKey = "session.intra_op.allow_spinning";

    /// <summary>
    /// Resolves <paramref name="requested"/> to the provider that runs. Throws <see cref="ProviderUnavailableException"/>
    /// for an explicit provider that does not load, <see cref="ArgumentException"/> for an unknown name.
    /// </summary>
    public static ProviderChoice Choose(string? requested)
    {
        var name = ExecutionProviders.Normalize(requested);
        if (name != ExecutionProviders.Auto)
        {
            var reason = ExecutionProviders.Probe(name);
            if (reason is not null)
            {
                throw new ProviderUnavailableException(name, reason);
            }
            return new ProviderChoice(name, name, []);
        }
        var skipped = new List<string>();
        foreach (var candidate in ExecutionProviders.AutoOrder)
        {
            var reason = ExecutionProviders.Probe(candidate);
            if (reason is null)
            {
                return new ProviderChoice(ExecutionProviders.Auto, candidate, skipped);
            }
            skipped.Add($"{candidate}: {reason}");
        }
        throw new InvalidOperationException("The CPU provider did not load: " + string.Join("; ", skipped));
    }

    /// <summary>The intra-op thread count a session gets for <paramref name="requested"/> (0 = ORT's default).</summary>
    public static int IntraOpThreads(int requested) => IntraOpThreads(requested, Environment.GetEnvironmentVariable(DefaultThreadsVariable));

    /// <summary>The rule itself: an explicit count wins, then a positive <paramref name="fromEnvironment"/>, else 0.</summary>
    internal static int IntraOpThreads(int requested, string? fromEnvironment) =>
        requested > 0 ? requested : int.TryParse(fromEnvironment, out var n) && n > 0 ? n : 0;

    /// <summary>Session options for the chosen provider; the caller owns (disposes) them.</summary>
    public static SessionOptions CreateOptions(ProviderChoice choice, InferenceSettings settings)
    {
        ArgumentNullException.ThrowIfNull(choice);
        ArgumentNullException.ThrowIfNull(settings);
        var options = new SessionOptions();
        try
        {
            var threads = IntraOpThreads(settings.IntraOpThreads);
            if (threads > 0)
            {
                options.IntraOpNumThreads = threads;
            }
            options.GraphOptimizationLevel = settings.OptimizationLevel;
            options.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
            // ORT's idle intra-op threads spin for work between ops by default. On a 2-core machine they then take the
            // cores from OpenCV's Lucas-Kanade threads, decoding and the other streams (bench --points 256, tapir-lk,
            // 2 threads: 18-23 fps spinning, 35-40 fps without; README, "Tracking engine").
            if (!settings.IntraOpSpinning)
            {
                options.AddSessionConfigEntry(AllowSpinningKey, "0");
            }
            if (settings.VerboseLog)
            {
                options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE;
            }
            // ORT applies the key to the CPU provider too, where it would reject every node; it only means something for a GPU.
            if (settings.DisableCpuFallback && choice.Provider != ExecutionProviders.Cpu)
            {
                options.AddSessionConfigEntry(DisableCpuEpFallbackKey, "1");
            }
            ExecutionProviders.Append(options, choice.Provider);
            return options;
        }
        catch
        {
            options.Dispose(); // half-built options must not leak when an append throws
            throw;
        }
    }

    /// <summary>Chooses the provider for <paramref name="settings"/> and opens <paramref name="modelPath"/> with it.</summary>
    public static InferenceSession Open(string modelPath, InferenceSettings settings, out ProviderChoice choice)
    {
        choice = Choose(settings.Provider);
        return Open(modelPath, settings, choice);
    }

    /// <summary>Opens <paramref name="modelPath"/> with an already made <paramref name="choice"/>.</summary>
    public static InferenceSession Open(string modelPath, InferenceSettings settings, ProviderChoice choice)
    {
        using var options = CreateOptions(choice, settings);
        return new InferenceSession(modelPath, options);
    }
}
