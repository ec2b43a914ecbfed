using System.Text.Json;
using Xunit.Abstractions;

namespace CausalTap.Onnx.Tests;

/// <summary>
/// Runs models on the WebGPU provider (Dawn on Vulkan, lavapipe on machines without a GPU) with CPU fallback
/// disabled, compares with the CPU provider and checks in ORT's profile that the nodes ran on WebGPU.
/// </summary>
public class WebGpuTests(ITestOutputHelper log)
{
    private static readonly Lock s_setup = new();
    private static bool s_configured;

    private static void ConfigureVulkanOnce()
    {
        _ = TestModels.Environment;
        lock (s_setup)
        {
            if (!s_configured && Lavapipe.SkipReason() is null)
            {
                Lavapipe.UseForVulkan();
                s_configured = true;
            }
        }
    }

    [VulkanFact]
    public void MlpOnWebGpuMatchesCpu()
    {
        var x = TestModels.Ramp(3 * 4, 0.21f, -1.1f);
        var gpu = RunOnWebGpu(TestModels.Mlp, "X", x, [3, 4], "Y", 9, out var ops);
        var cpu = RunOnCpu(TestModels.Mlp, "X", x, [3, 4]);
        TestModels.AssertClose(cpu, gpu, 1e-4f);
        TestModels.AssertClose(TestModels.MlpReference(x, 3), gpu, 1e-4f);
        Assert.Contains(ops, op => op.Contains("MatMul") || op.Contains("Gemm"));
    }

    [VulkanFact]
    public void ConvOnWebGpuMatchesCpu()
    {
        var x = TestModels.Ramp(2 * 8 * 8, 0.013f, -0.8f);
        var gpu = RunOnWebGpu(TestModels.Conv, "X", x, [1, 2, 8, 8], "Y", 3 * 8 * 8, out var ops);
        var cpu = RunOnCpu(TestModels.Conv, "X", x, [1, 2, 8, 8]);
        TestModels.AssertClose(cpu, gpu, 1e-4f);
        TestModels.AssertClose(TestModels.ConvReference(x), gpu, 1e-4f);
        Assert.Contains(ops, op => op.Contains("Conv"));
    }

    [VulkanFact]
    public void SessionThatWebGpuCannotFullyTakeFallsBackToCpuWhenNotStrict()
    {
        // int64 Add/Greater are not enabled on WebGPU by default, so with CPU-EP fallback disabled the WebGPU
        // session fails at initialisation (after the append succeeded) and Create rebuilds it CPU-only.
        ConfigureVulkanOnce();
        var config = new SessionConfig
        {
            Providers = [ExecutionProviders.WebGpu],
            ConfigEntries = new Dictionary<string, string> { [SessionConfig.DisableCpuEpFallbackKey] = "1" },
        };
        using var session = InferenceSession.Create(TestModels.DTypes, config);
        var selection = session.ProviderSelection;
        var warning = Assert.Single(selection.Warnings);
        log.WriteLine(warning);
        Assert.Equal([ExecutionProviders.CpuOrtName], selection.Providers);
        Assert.Contains("Creating the session with WebGpuExecutionProvider failed", warning);

        long[] l = [5, -6, 7, 8];
        using var vh = OrtValue.CreateTensorValueFromMemory(new Half[4], [4]);
        using var vl = OrtValue.CreateTensorValueFromMemory(l, [4]);
        using var vi = OrtValue.CreateTensorValueFromMemory(new int[4], [4]);
        using var vu = OrtValue.CreateTensorValueFromMemory(new byte[4], [4]);
        using var vb = OrtValue.CreateTensorValueFromMemory(new bool[4], [4]);
        using var r = session.Run(["H", "L", "I", "U", "Bm"], [vh, vl, vi, vu, vb]);
        Assert.Equal(l.Select(x => 2 * x), r["L2"].GetTensorDataAsSpan<long>().ToArray());

        config = config with { StrictProviders = true };
        var e = Assert.Throws<ExecutionProviderException>(() => InferenceSession.Create(TestModels.DTypes, config));
        Assert.Contains("strict", e.Message);
    }

    private float[] RunOnWebGpu(string model, string inputName, float[] input, long[] shape, string outputName,
        int outputCount, out IReadOnlyList<string> opsOnWebGpu)
    {
        ConfigureVulkanOnce();
        var prefix = Path.Combine(Path.GetTempPath(), $"ct-webgpu-profile-{Guid.NewGuid():N}");
        var config = new SessionConfig
        {
            Providers = [ExecutionProviders.WebGpu],
            StrictProviders = true, // a broken WebGPU path must fail this test, not quietly run on CPU
            ConfigEntries = new Dictionary<string, string> { [SessionConfig.DisableCpuEpFallbackKey] = "1" },
            ProfilingFilePrefix = prefix,
        };
        using var session = InferenceSession.Create(model, config);
        Assert.Equal([ExecutionProviders.WebGpuOrtName, ExecutionProviders.CpuOrtName], session.ProviderSelection.Providers);
        Assert.False(session.ProviderSelection.UsedFallback);

        var output = new float[outputCount];
        var outShape = session.OutputMetadata[0].Shape.Select((d, i) => d >= 0 ? d : shape[i]).ToArray();
        using var vx = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var vy = OrtValue.CreateTensorValueFromMemory(output, outShape);
        for (var n = 0; n < 3; n++) // reused CPU output buffer: ORT copies the GPU result into it each run
        {
            Array.Fill(output, float.NaN);
            session.Run([inputName], [vx], [outputName], [vy]);
        }
        using (var r = session.Run([inputName], [vx]))
        {
            Assert.Equal(output, r[0].GetTensorDataAsSpan<float>().ToArray());
        }

        var profile = session.EndProfiling();
        try
        {
            opsOnWebGpu = NodeProviders(profile, out var otherProviders);
            log.WriteLine($"{Path.GetFileName(model)}: nodes on WebGPU: {string.Join(", ", opsOnWebGpu)}; elsewhere: {string.Join(", ", otherProviders)}");
            Assert.NotEmpty(opsOnWebGpu);
            Assert.Empty(otherProviders);
        }
        finally
        {
            File.Delete(profile);
        }
        return output;
    }

    private static float[] RunOnCpu(string model, string inputName, float[] input, long[] shape)
    {
        using var session = InferenceSession.Create(model, new SessionConfig { Providers = [ExecutionProviders.Cpu] });
        using var vx = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var r = session.Run([inputName], [vx]);
        return r[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Op names of node events run by WebGPU, and "op@provider" for node events run by anything else.</summary>
    private static List<string> NodeProviders(string profilePath, out List<string> others)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(profilePath));
        var webGpu = new List<string>();
        others = [];
        foreach (var ev in doc.RootElement.EnumerateArray())
        {
            if (ev.TryGetProperty("cat", out var cat) && cat.GetString() == "Node"
                && ev.TryGetProperty("args", out var args) && args.TryGetProperty("provider", out var provider))
            {
                var op = args.TryGetProperty("op_name", out var o) ? o.GetString() ?? "?" : "?";
                if (provider.GetString() == ExecutionProviders.WebGpuOrtName)
                {
                    webGpu.Add(op);
                }
                else
                {
                    others.Add($"{op}@{provider.GetString()}");
                }
            }
        }
        return webGpu;
    }
}
