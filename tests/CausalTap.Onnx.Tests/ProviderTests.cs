using Xunit.Abstractions;

namespace CausalTap.Onnx.Tests;

public class ProviderTests(ITestOutputHelper output)
{
    private readonly OrtEnvironment _env = TestModels.Environment;

    [Fact]
    public void NameMapping()
    {
        Assert.Equal("CUDAExecutionProvider", ExecutionProviders.ToOrtName("CUDA"));
        Assert.Equal("TensorrtExecutionProvider", ExecutionProviders.ToOrtName("tensorrt"));
        Assert.Equal("WebGpuExecutionProvider", ExecutionProviders.ToOrtName("webgpu"));
        Assert.Equal("CPUExecutionProvider", ExecutionProviders.ToOrtName("cpu"));
        Assert.Equal("XNNPACK", ExecutionProviders.ToOrtName("XNNPACK"));
    }

    [Fact]
    public void CpuRequestNeedsNoFallback()
    {
        using var session = InferenceSession.Create(TestModels.Add, new SessionConfig { Providers = ["cpu"] });
        Assert.Equal([ExecutionProviders.CpuOrtName], session.ProviderSelection.Providers);
        Assert.False(session.ProviderSelection.UsedFallback);
    }

    [Theory]
    [InlineData("cuda", "CUDAExecutionProvider")]
    [InlineData("tensorrt", "TensorrtExecutionProvider")]
    public void UnusableGpuProviderFallsBackToCpuWithClearMessage(string name, string ortName)
    {
        // This library has no CUDA/TensorRT provider libraries next to it, so the append must fail.
        using var session = InferenceSession.Create(TestModels.Mlp, new SessionConfig { Providers = [name] });
        var selection = session.ProviderSelection;
        Assert.True(selection.UsedFallback);
        Assert.Equal([name], selection.Requested);
        Assert.Equal([ExecutionProviders.CpuOrtName], selection.Providers);
        var warning = Assert.Single(selection.Warnings);
        output.WriteLine(warning);
        Assert.Contains($"'{name}'", warning);
        Assert.Contains(ortName, warning);
        Assert.Contains("Available providers", warning);
        Assert.Contains(ExecutionProviders.CpuOrtName, warning);
        Assert.Contains("Falling back to CPUExecutionProvider", warning);

        var x = TestModels.Ramp(4, 0.5f, -1f);
        using var vx = OrtValue.CreateTensorValueFromMemory(x, [1, 4]);
        using var r = session.Run(["X"], [vx]);
        TestModels.AssertClose(TestModels.MlpReference(x, 1), r[0].GetTensorDataAsSpan<float>(), 1e-5f);
    }

    [Fact]
    public void StrictModeThrowsInsteadOfFallingBack()
    {
        var config = new SessionConfig { Providers = ["cuda"], StrictProviders = true };
        var e = Assert.Throws<ExecutionProviderException>(() => InferenceSession.Create(TestModels.Mlp, config));
        output.WriteLine(e.Message);
        Assert.Equal("cuda", e.Provider);
        Assert.Contains("CUDAExecutionProvider", e.Message);
        Assert.False(string.IsNullOrWhiteSpace(e.NativeMessage));
    }

    [Fact]
    public void DirectAppendThrowsWithOrtReason()
    {
        using var options = new SessionOptions();
        var e = Assert.Throws<ExecutionProviderException>(() => options.AppendExecutionProvider("cuda", new Dictionary<string, string> { ["device_id"] = "0" }));
        Assert.Contains("cuda", e.Message);
        Assert.Empty(options.AppendedProviders);
    }

    [Fact]
    public void UnknownProviderNameFallsBackWithOrtText()
    {
        using var options = new SessionOptions();
        var selection = options.AppendExecutionProviders(["no-such-ep"]);
        var warning = Assert.Single(selection.Warnings);
        Assert.Contains("no-such-ep", warning);
        Assert.Contains("Unknown provider name", warning); // ORT's own text
    }
}
