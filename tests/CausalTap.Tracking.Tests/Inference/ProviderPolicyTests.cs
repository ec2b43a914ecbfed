using CausalTap.Tracking.Inference;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace CausalTap.Tracking.Tests.Inference;

/// <summary>
/// The provider policy on the official ONNX Runtime package. Test output folders hold no CUDA/TensorRT provider
/// libraries (Directory.Build.targets), so on every machine, GPU or not, those providers fail to load here: that is
/// the "explicit provider cannot load" case, and auto must then choose the CPU and say why.
/// </summary>
public sealed class ProviderPolicyTests(ITestOutputHelper output)
{
    private static string Encoder => Path.Combine(CausalTap.TestShared.TestRepo.Root, "models", "causaltap-default", "encoder.onnx");

    [Fact]
    public void TheLibraryIsOnnxRuntime132WithTheGpuBuildsProviders()
    {
        Assert.StartsWith("1.32.", ExecutionProviders.OrtVersion);
        Assert.Equal(["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"], ExecutionProviders.BuiltIn);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("tensorrt")]
    public void ExplicitGpuProviderThatCannotLoadIsAClearError(string provider)
    {
        var e = Assert.Throws<ProviderUnavailableException>(() => ProviderPolicy.Choose(provider));
        output.WriteLine(e.Message);
        Assert.Equal(provider, e.Provider);
        Assert.StartsWith($"Execution provider '{provider}' cannot be used: ", e.Message);
        Assert.Contains("Failed to load shared library", e.Message); // ORT's own reason
        Assert.Contains("CUDA 13", e.Message);
        Assert.Contains("cuDNN 9", e.Message);
    }

    [Fact]
    public void ExplicitProviderFailsTheModelLoadInsteadOfFallingBack()
    {
        var dir = ModelDirectory.Open(Path.GetDirectoryName(Encoder)!);
        var e = Assert.Throws<ProviderUnavailableException>(() => TrackerModel.Load(dir, new TrackerOptions("cuda", 1)));
        Assert.Equal("cuda", e.Provider);
    }

    [Fact]
    public void AutoChoosesCpuHereAndSaysWhyTheGpuProvidersWereSkipped()
    {
        var choice = ProviderPolicy.Choose("auto");
        output.WriteLine(choice.ToString());
        Assert.Equal("auto", choice.Requested);
        Assert.Equal("cpu", choice.Provider);
        Assert.Equal(2, choice.Skipped.Count);
        Assert.StartsWith("tensorrt: ", choice.Skipped[0]);
        Assert.StartsWith("cuda: ", choice.Skipped[1]);
        Assert.All(choice.Skipped, s => Assert.Contains("Failed to load shared library", s));
        Assert.StartsWith("provider cpu (auto; skipped tensorrt: ", choice.ToString());
    }

    [Fact]
    public void ModelLoadedWithAutoReportsTheProviderItRunsOn()
    {
        using var model = TrackerModel.Load(ModelDirectory.Open(Path.GetDirectoryName(Encoder)!), new TrackerOptions("auto", 1));
        Assert.Equal("cpu", model.Provider.Provider);
        Assert.Equal("auto", model.Provider.Requested);
    }

    [Theory]
    [InlineData("CUDA", "cuda")]
    [InlineData("CUDAExecutionProvider", "cuda")]
    [InlineData("trt", "tensorrt")]
    [InlineData(" cpu ", "cpu")]
    [InlineData("", "auto")]
    public void ProviderNamesAreNormalised(string given, string expected) =>
        Assert.Equal(expected, ExecutionProviders.Normalize(given));

    [Fact]
    public void UnknownProviderNameListsTheAcceptedOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => ProviderPolicy.Choose("webgpu"));
        Assert.Contains("'webgpu'", e.Message);
        Assert.Contains("auto, cpu, cuda, tensorrt", e.Message);
    }

    [Theory]
    [InlineData(3, null, 3)]
    [InlineData(3, "1", 3)] // an explicit count beats the environment
    [InlineData(0, "2", 2)]
    [InlineData(0, "0", 0)]
    [InlineData(0, "nope", 0)]
    [InlineData(0, null, 0)]
    public void IntraOpThreadsComeFromTheOptionThenTheEnvironment(int requested, string? environment, int expected) =>
        Assert.Equal(expected, ProviderPolicy.IntraOpThreads(requested, environment));

    [Fact]
    public void SessionOptionsCarryTheThreadCountAndGraphSettings()
    {
        var choice = ProviderPolicy.Choose("cpu");
        using var options = ProviderPolicy.CreateOptions(choice, new InferenceSettings("cpu", 2) { OptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC });
        Assert.Equal(2, options.IntraOpNumThreads);
        Assert.Equal(GraphOptimizationLevel.ORT_ENABLE_BASIC, options.GraphOptimizationLevel);
    }

    [Fact]
    public void NoCpuFallbackOnTheCpuProviderStillRuns()
    {
        // The key only forbids nodes leaving the chosen provider; on the CPU every node stays, so the session opens.
        using var session = ProviderPolicy.Open(Encoder, new InferenceSettings("cpu", 1) { DisableCpuFallback = true }, out var choice);
        Assert.Equal("cpu", choice.Provider);
        Assert.Equal(["frame"], session.InputNames);
    }

    [Fact]
    public void GraphTensorsReadNamesTypesAndShapes()
    {
        using var session = ProviderPolicy.Open(Encoder, new InferenceSettings("cpu", 1), out _);
        var frame = Assert.Single(GraphTensor.Inputs(session));
        Assert.Equal("frame", frame.Name);
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, frame.ElementType);
        Assert.Equal([1L, 3, 256, 256], frame.Shape);
        Assert.False(frame.IsDynamic);
        Assert.Equal(["lowres", "hires"], GraphTensor.Outputs(session).Select(t => t.Name));
    }

    [Fact]
    public void CorruptGraphIsAnOnnxRuntimeErrorWithOrtsMessage()
    {
        var path = Path.Combine(Path.GetTempPath(), $"causaltap-corrupt-{Guid.NewGuid():N}.onnx");
        File.WriteAllText(path, "not an onnx model");
        try
        {
            var e = Assert.Throws<OnnxRuntimeException>(() => ProviderPolicy.Open(path, new InferenceSettings("cpu", 1), out _));
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BoundRunsReuseTheirBuffersWithoutAllocating()
    {
        // The hot path's pattern: OrtValues over pinned arrays, bound once, RunWithBinding per frame.
        using var session = ProviderPolicy.Open(Encoder, new InferenceSettings("cpu", 1), out _);
        var frame = GC.AllocateArray<float>(3 * 256 * 256, pinned: true);
        var lowresShape = GraphTensor.Outputs(session).Single(t => t.Name == "lowres").Shape.ToArray();
        var hiresShape = GraphTensor.Outputs(session).Single(t => t.Name == "hires").Shape.ToArray();
        var lowres = GC.AllocateArray<float>((int)lowresShape.Aggregate(1L, (a, b) => a * b), pinned: true);
        var hires = GC.AllocateArray<float>((int)hiresShape.Aggregate(1L, (a, b) => a * b), pinned: true);
        using var frameValue = OrtValue.CreateTensorValueFromMemory(frame, [1, 3, 256, 256]);
        using var lowresValue = OrtValue.CreateTensorValueFromMemory(lowres, lowresShape);
        using var hiresValue = OrtValue.CreateTensorValueFromMemory(hires, hiresShape);
        using var binding = session.CreateIoBinding();
        binding.BindInput("frame", frameValue);
        binding.BindOutput("lowres", lowresValue);
        binding.BindOutput("hires", hiresValue);
        using var run = new RunOptions();

        Array.Fill(frame, 0.25f);
        session.RunWithBinding(run, binding);
        var first = lowres.ToArray();
        Array.Fill(frame, -0.5f);
        var before = GC.GetAllocatedBytesForCurrentThread();
        session.RunWithBinding(run, binding);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.NotEqual(first, lowres); // ORT wrote the new frame's grid into our buffer
        Assert.All(lowres, v => Assert.True(float.IsFinite(v)));
    }
}
