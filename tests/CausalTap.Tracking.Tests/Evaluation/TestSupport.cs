using System.Diagnostics;

namespace CausalTap.Tracking.Tests.Evaluation;

/// <summary>Locations the evaluation tests need: the repository, the python helper and the shared dev data.</summary>
internal static class TestPaths
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> PythonProblemLazy = new(() =>
    {
        if (!File.Exists(Python)) return $"{Python} not found";
        try
        {
            PythonRunner.Run(["-c", "import numpy"], TimeSpan.FromSeconds(60));
            return null;
        }
        catch (Exception e)
        {
            return $"{Python} cannot import numpy: {e.Message}";
        }
    });

    public static string RepoRoot => CausalTap.TestShared.TestRepo.Root;

    public static string ReferenceScript => Path.Combine(RepoRoot, "tests", "CausalTap.Tracking.Tests", "Evaluation", "tapvid_metrics_reference.py");

    /// <summary>Null when python + numpy work, else why not.</summary>
    public static string? PythonProblem => PythonProblemLazy.Value;

    /// <summary>Null when python + numpy work and tapvid_metrics_reference.py is found in the repository, else why not.</summary>
    public static string? ReferenceProblem =>
        PythonProblem ?? (CausalTap.TestShared.TestRepo.TryRoot is null || !File.Exists(ReferenceScript)
            ? "tapvid_metrics_reference.py not found (no CausalTap.sln above " + AppContext.BaseDirectory + ")"
            : null);

    /// <summary>
    /// The TAP-Vid-DAVIS 32-frame dev split: <c>$CAUSALTAP_SHARED/data/tapvid_davis32_dev</c>, else
    /// <c>REPO/../shared/data/...</c>, else <c>REPO/shared/data/...</c>; null when none has .npz files.
    /// </summary>
    public static string? DavisDevDir
    {
        get
        {
            var candidates = new List<string>();
            string? env = Environment.GetEnvironmentVariable("CAUSALTAP_SHARED");
            if (!string.IsNullOrEmpty(env)) candidates.Add(Path.Combine(env, "data", "tapvid_davis32_dev"));
            if (CausalTap.TestShared.TestRepo.TryRoot is { } root)
            {
                candidates.Add(Path.GetFullPath(Path.Combine(root, "..", "shared", "data", "tapvid_davis32_dev")));
                candidates.Add(Path.Combine(root, "shared", "data", "tapvid_davis32_dev"));
            }
            return candidates.FirstOrDefault(d => Directory.Exists(d) && Directory.EnumerateFiles(d, "*.npz").Any());
        }
    }

    public static string DavisDevSearchText =>
        "$CAUSALTAP_SHARED/data/tapvid_davis32_dev, <repo>/../shared/data/tapvid_davis32_dev, <repo>/shared/data/tapvid_davis32_dev";
}

/// <summary>A fact that needs /usr/bin/python3 with numpy; skipped (at discovery) with the reason when absent.</summary>
public sealed class PythonNumpyFactAttribute : FactAttribute
{
    public PythonNumpyFactAttribute()
    {
        if (TestPaths.PythonProblem is { } why) Skip = "needs python3 + numpy for the cross-check: " + why;
    }
}

/// <summary>A theory that needs /usr/bin/python3 with numpy (and, with <see cref="NeedsReferenceScript"/>, the metric script).</summary>
public sealed class PythonNumpyTheoryAttribute : TheoryAttribute
{
    public PythonNumpyTheoryAttribute()
    {
        if (TestPaths.PythonProblem is { } why) Skip = "needs python3 + numpy for the cross-check: " + why;
    }

    public bool NeedsReferenceScript
    {
        get => false;
        set
        {
            if (value && Skip is null && TestPaths.ReferenceProblem is { } why) Skip = "needs the numpy reference: " + why;
        }
    }
}

/// <summary>
/// A fact that needs the shared TAP-Vid-DAVIS dev data (never committed to the repo); skipped at discovery with
/// a message naming the paths searched when it is absent. <see cref="NeedsPython"/> adds the python requirement.
/// </summary>
public sealed class DavisDevFactAttribute : FactAttribute
{
    public DavisDevFactAttribute()
    {
        if (TestPaths.DavisDevDir is null)
            Skip = "TAP-Vid-DAVIS dev data not found (searched " + TestPaths.DavisDevSearchText + "); set CAUSALTAP_SHARED";
    }

    public bool NeedsPython
    {
        get => false;
        set
        {
            if (value && Skip is null && TestPaths.ReferenceProblem is { } why) Skip = "needs the numpy reference: " + why;
        }
    }
}

internal static class PythonRunner
{
    /// <summary>Runs /usr/bin/python3 with <paramref name="args"/>; returns stdout; throws with stderr on failure.</summary>
    public static string Run(IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(TestPaths.Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMP_NUM_THREADS"] = "1";
        psi.Environment["OPENBLAS_NUM_THREADS"] = "1";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start python");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("python timed out");
        }
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"python exited with {p.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    /// <summary>Runs a python snippet (with numpy imported as np) passing <paramref name="args"/> as sys.argv[1:].</summary>
    public static string RunCode(string code, params string[] args) =>
        Run(new[] { "-c", "import sys, json\nimport numpy as np\n" + code }.Concat(args));
}

/// <summary>A temporary folder deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "causaltap-eval-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
