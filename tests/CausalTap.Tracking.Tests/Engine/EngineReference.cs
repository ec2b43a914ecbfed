using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using CausalTap.Imaging;
using CausalTap.Tracking.Evaluation;

namespace CausalTap.Tracking.Tests.Engine;

/// <summary>
/// The model directories and PyTorch online references that <c>training/scripts/make_engine_reference.py</c> builds,
/// cached under <c>.deps/engine-reference/&lt;hash of the script + training sources&gt;/</c> and built once per cache key.
/// </summary>
internal static class EngineReference
{
    public const string Python = "/usr/bin/python3";
    public static readonly string[] Presets = ["small", "official"];

    private static readonly object Gate = new();
    private static string? _built;

    public static string RepoRoot { get; } = CausalTap.TestShared.TestRepo.Root;

    /// <summary>../shared/fixtures next to the repository (or $CAUSALTAP_SHARED/fixtures), or null.</summary>
    public static string? SharedFixtures
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("CAUSALTAP_SHARED");
            foreach (var c in new[] { env is { Length: > 0 } ? Path.Combine(env, "fixtures") : null, Path.Combine(RepoRoot, "..", "shared", "fixtures") })
            {
                if (c is not null && System.IO.Directory.Exists(Path.Combine(c, "tapir_causal")))
                {
                    return Path.GetFullPath(c);
                }
            }
            return null;
        }
    }

    public static string Script => Path.Combine(RepoRoot, "training", "scripts", "make_engine_reference.py");

    /// <summary>The cache folder holding &lt;preset&gt;/model and &lt;preset&gt;/reference.npz (built on first use).</summary>
    public static string CacheDirectory
    {
        get
        {
            lock (Gate)
            {
                return _built ??= Build();
            }
        }
    }

    public static string ModelDir(string preset) => Path.Combine(CacheDirectory, preset, "model");

    public static string ReferencePath(string preset) => Path.Combine(CacheDirectory, preset, "reference.npz");

    private static string Build()
    {
        var dir = Path.Combine(RepoRoot, ".deps", "engine-reference", CacheKey());
        if (File.Exists(Path.Combine(dir, "DONE")))
        {
            return dir;
        }
        if (!File.Exists(Python))
        {
            throw new InvalidOperationException($"{Python} not found: run scripts/setup.sh (the engine parity test needs python + torch).");
        }
        var psi = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Script);
        psi.ArgumentList.Add("--out");
        psi.ArgumentList.Add(dir);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(20)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Script} did not finish in 20 minutes.");
        }
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Script} failed (exit {p.ExitCode}); if python/torch/onnx are missing run scripts/setup.sh.\n" +
                                                stdout.Result + stderr.Result);
        }
        return dir;
    }

    /// <summary>sha256 over the script and every training/causaltap_training/**/*.py (path + content), 16 hex chars.</summary>
    private static string CacheKey()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var training = Path.Combine(RepoRoot, "training", "causaltap_training");
        var files = Directory.GetFiles(training, "*.py", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(RepoRoot, f)).Order(StringComparer.Ordinal).Prepend(Path.GetRelativePath(RepoRoot, Script));
        foreach (var rel in files)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(rel + "\n"));
            sha.AppendData(File.ReadAllBytes(Path.Combine(RepoRoot, rel)));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    /// <summary>Frames [T,H,W,3] uint8 of a reference as images.</summary>
    public static RgbImage[] Frames(Dictionary<string, NpyArray> reference)
    {
        var a = reference["frames"];
        int t = a.Shape[0], h = a.Shape[1], w = a.Shape[2];
        var bytes = a.UInt8;
        var frames = new RgbImage[t];
        for (var i = 0; i < t; i++)
        {
            var buf = new byte[h * w * 3];
            Array.Copy(bytes, (long)i * h * w * 3, buf, 0, buf.Length);
            frames[i] = new RgbImage(buf, w, h);
        }
        return frames;
    }
}

/// <summary>Loaded models shared by the engine tests (one TrackerModel per preset, loaded on first use).</summary>
public sealed class EngineModels : IDisposable
{
    private readonly Dictionary<string, TrackerModel> _models = [];
    private readonly Dictionary<string, Dictionary<string, NpyArray>> _references = [];

    public TrackerModel Get(string preset)
    {
        lock (_models)
        {
            if (!_models.TryGetValue(preset, out var m))
            {
                m = TrackerModel.Load(ModelDirectory.Open(EngineReference.ModelDir(preset)), new TrackerOptions(IntraOpThreads: 2));
                _models[preset] = m;
            }
            return m;
        }
    }

    public Dictionary<string, NpyArray> Reference(string preset)
    {
        lock (_references)
        {
            if (!_references.TryGetValue(preset, out var r))
            {
                r = NpzReader.Load(EngineReference.ReferencePath(preset));
                _references[preset] = r;
            }
            return r;
        }
    }

    public void Dispose()
    {
        foreach (var m in _models.Values)
        {
            m.Dispose();
        }
    }
}

/// <summary>A fact that needs ../shared/fixtures (skipped with the reason when absent); python/torch problems fail.</summary>
public sealed class EngineFactAttribute : FactAttribute
{
    public EngineFactAttribute()
    {
        if (EngineReference.SharedFixtures is null)
        {
            Skip = "../shared/fixtures (tapir_causal) is absent: the engine reference clip and fixture weights come from there.";
        }
    }
}

/// <summary>Theory counterpart of <see cref="EngineFactAttribute"/>.</summary>
public sealed class EngineTheoryAttribute : TheoryAttribute
{
    public EngineTheoryAttribute()
    {
        if (EngineReference.SharedFixtures is null)
        {
            Skip = "../shared/fixtures (tapir_causal) is absent: the engine reference clip and fixture weights come from there.";
        }
    }
}

[CollectionDefinition("Engine")]
public sealed class EngineCollection : ICollectionFixture<EngineModels>
{
}
