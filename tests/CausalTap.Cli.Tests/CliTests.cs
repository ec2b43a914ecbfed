using System.Text.Json;

namespace CausalTap.Cli.Tests;

[Collection(CliCollection.Name)]
public class CliTests
{
    [Fact]
    public void Version_names_the_onnxruntime_build_and_its_providers()
    {
        var (rc, output) = CliRunner.Run("--version");
        Assert.Equal(0, rc);
        Assert.Contains("causaltap 0.1.0", output);
        Assert.Contains("onnxruntime 1.32.", output);
        Assert.Contains("execution providers: TensorrtExecutionProvider, CUDAExecutionProvider, CPUExecutionProvider", output);
        string loads = output.Split('\n').Single(l => l.StartsWith("loads here:", StringComparison.Ordinal));
        Assert.Contains("cpu", loads);
    }

    [Fact]
    public void Version_says_why_the_gpu_providers_do_not_load_in_a_test_folder()
    {
        // Test output folders get no GPU provider libraries (Directory.Build.targets), so CUDA and TensorRT never
        // load here, GPU or not; --version must say so with ORT's reason rather than list them as usable.
        var (_, output) = CliRunner.Run("--version");
        string loads = output.Split('\n').Single(l => l.StartsWith("loads here:", StringComparison.Ordinal));
        Assert.DoesNotContain("cuda", loads);
        Assert.Contains("cuda: does not load here: ", output);
        Assert.Contains("tensorrt: does not load here: ", output);
        Assert.Contains("Failed to load shared library", output);
        Assert.Contains("libonnxruntime_providers_cuda.so is not in", output);
    }

    [Fact]
    public void Models_lists_directories_with_a_card_and_ignores_others()
    {
        string dir = Directory.CreateTempSubdirectory("causaltap-models-").FullName;
        string? old = Environment.GetEnvironmentVariable("CAUSALTAP_MODELS");
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "tiny"));
            File.WriteAllText(Path.Combine(dir, "tiny", "model.json"), """{"description": "a tiny test model"}""");
            Directory.CreateDirectory(Path.Combine(dir, "not-a-model"));
            Directory.CreateDirectory(Path.Combine(dir, "broken"));
            File.WriteAllText(Path.Combine(dir, "broken", "model.json"), "{ nope");
            Environment.SetEnvironmentVariable("CAUSALTAP_MODELS", dir);

            var (rc, output) = CliRunner.Run("models");
            Assert.Equal(1, rc); // the broken card (and a card without graphs to verify) are problems
            Assert.Contains("tiny", output);
            Assert.Contains("a tiny test model", output);
            Assert.Contains("unreadable model.json", output);
            Assert.DoesNotContain("not-a-model", output);
        }
        finally
        {
            Environment.SetEnvironmentVariable("CAUSALTAP_MODELS", old);
            Directory.Delete(dir, recursive: true);
        }
    }
}
