using System.Diagnostics;

namespace CausalTap.Onnx.Tests;

/// <summary>
/// Process-wide test set-up: initialises ORT from CAUSALTAP_ORT_LIB (or the repo's .deps copy) and generates the
/// tiny models with models/make_models.py into a temp directory, once.
/// </summary>
public static class TestModels
{
    private static readonly Lazy<string> s_dir = new(Generate);

    public static string Directory => s_dir.Value;
    public static string Add => Path.Combine(Directory, "add.onnx");
    public static string Mlp => Path.Combine(Directory, "mlp.onnx");
    public static string DTypes => Path.Combine(Directory, "dtypes.onnx");
    public static string Conv => Path.Combine(Directory, "conv.onnx");

    /// <summary>The ORT environment used by all tests.</summary>
    public static OrtEnvironment Environment
    {
        get
        {
            _ = Directory; // models first: generation failures should be reported as such
            return OrtEnvironment.Initialize(LibraryPath());
        }
    }

    public static string LibraryPath()
    {
        var fromEnv = System.Environment.GetEnvironmentVariable(OrtEnvironment.LibraryPathVariable);
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return fromEnv;
        }
        // Convenience for IDE runs: walk up to the repo root's .deps copy.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, ".deps", "onnxruntime", "libonnxruntime.so.1");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException($"Set {OrtEnvironment.LibraryPathVariable} to libonnxruntime.so.1 (scripts/setup.sh installs it).");
    }

    private static string Generate()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"causaltap-onnx-tests-{System.Environment.ProcessId}");
        var script = Path.Combine(AppContext.BaseDirectory, "models", "make_models.py");
        var python = System.Environment.GetEnvironmentVariable("CAUSALTAP_PYTHON") ?? "/usr/bin/python3";
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(dir);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {python}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{python} {script} failed ({process.ExitCode}): {stderr}{stdout.Result}");
        }
        OrtEnvironment.Initialize(LibraryPath());
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(dir, recursive: true); } catch (IOException) { }
        };
        return dir;
    }

    // ---- C# references for the generated weights (same closed forms as make_models.py) ----

    public static float MlpW(int i, int j) => 0.1f * (i * 3 + j) - 0.5f;
    public static float MlpBias(int j) => 0.25f * j - 0.25f;

    public static float[] MlpReference(float[] x, int batch)
    {
        var y = new float[batch * 3];
        for (var b = 0; b < batch; b++)
        {
            for (var j = 0; j < 3; j++)
            {
                var acc = MlpBias(j);
                for (var i = 0; i < 4; i++)
                {
                    acc += x[b * 4 + i] * MlpW(i, j);
                }
                y[b * 3 + j] = MathF.Max(acc, 0f);
            }
        }
        return y;
    }

    public static float ConvW(int o, int c, int ky, int kx) => 0.05f * ((o * 18 + c * 9 + ky * 3 + kx) % 7) - 0.15f;
    public static float ConvB(int o) => 0.1f * o - 0.1f;

    public static float[] ConvReference(float[] x)
    {
        const int c = 2, h = 8, w = 8, o = 3;
        var y = new float[o * h * w];
        for (var oc = 0; oc < o; oc++)
        {
            for (var yy = 0; yy < h; yy++)
            {
                for (var xx = 0; xx < w; xx++)
                {
                    var acc = ConvB(oc);
                    for (var ic = 0; ic < c; ic++)
                    {
                        for (var ky = 0; ky < 3; ky++)
                        {
                            for (var kx = 0; kx < 3; kx++)
                            {
                                int sy = yy + ky - 1, sx = xx + kx - 1;
                                if (sy >= 0 && sy < h && sx >= 0 && sx < w)
                                {
                                    acc += x[(ic * h + sy) * w + sx] * ConvW(oc, ic, ky, kx);
                                }
                            }
                        }
                    }
                    y[(oc * h + yy) * w + xx] = MathF.Max(acc, 0f);
                }
            }
        }
        return y;
    }

    public static float[] Ramp(int count, float scale, float offset) =>
        Enumerable.Range(0, count).Select(i => i * scale + offset).ToArray();

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            if (MathF.Abs(expected[i] - actual[i]) > tolerance)
            {
                Assert.Fail($"element {i}: expected {expected[i]}, got {actual[i]} (tolerance {tolerance})");
            }
        }
    }
}
