using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace CausalTap.Cli.Tests;

/// <summary>
/// A random-init tiny TAPIR + tiny GMRW model directory (128x128 input) for the CLI tests, exported once by
/// <c>make_test_model.py</c> (the export engineer's <c>export_model</c>) and cached under
/// <c>.deps/test-models/&lt;hash of the exporting code&gt;/</c>.
/// </summary>
internal static class TestModels
{
    private static readonly Lazy<string> s_tiny = new(BuildTiny, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The repository root (the folder with CausalTap.sln).</summary>
    public static string RepoRoot { get; } = CausalTap.TestShared.TestRepo.Root;

    /// <summary>Path of the cached tiny model directory (exported on first use).</summary>
    public static string Tiny => s_tiny.Value;

    /// <summary>Copies the tiny model into <paramref name="modelsRoot"/>/<paramref name="name"/> and returns that path.</summary>
    public static string CopyTo(string modelsRoot, string name)
    {
        string target = Path.Combine(modelsRoot, name);
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(Tiny))
        {
            if (Path.GetFileName(file) != "DONE") File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
        return target;
    }

    private static string BuildTiny()
    {
        string script = Path.Combine(RepoRoot, "tests", "CausalTap.Cli.Tests", "make_test_model.py");
        string training = Path.Combine(RepoRoot, "training", "causaltap_training");
        var inputs = new List<string> { script };
        foreach (string sub in new[] { "export", "tapir", "gmrw" })
        {
            string dir = Path.Combine(training, sub);
            if (Directory.Exists(dir)) inputs.AddRange(Directory.GetFiles(dir, "*.py").Order(StringComparer.Ordinal));
        }
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string file in inputs)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(RepoRoot, file)));
            sha.AppendData(File.ReadAllBytes(file));
        }
        string hash = Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
        string cache = Path.Combine(RepoRoot, ".deps", "test-models", hash);
        string done = Path.Combine(cache, "tiny", "DONE");
        if (File.Exists(done)) return Path.GetDirectoryName(done)!;

        string temp = Path.Combine(RepoRoot, ".deps", "test-models", $"tmp-{Guid.NewGuid():N}");
        var info = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(temp);
        info.ArgumentList.Add("--size");
        info.ArgumentList.Add("128");
        using var p = Process.Start(info)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(600_000))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException("make_test_model.py did not finish within 10 minutes");
        }
        if (p.ExitCode != 0 || !File.Exists(Path.Combine(temp, "DONE")))
        {
            throw new InvalidOperationException($"make_test_model.py failed (exit {p.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        }
        Directory.CreateDirectory(cache);
        try
        {
            Directory.Move(temp, Path.Combine(cache, "tiny"));
        }
        catch (IOException) when (File.Exists(done))
        {
            Directory.Delete(temp, recursive: true); // another process finished first
        }
        return Path.GetDirectoryName(done)!;
    }
}
