using CausalTap.Onnx.Native;

namespace CausalTap.Onnx.Tests;

public class EnvironmentTests
{
    [Fact]
    public void VersionComesFromOrtApiBaseAndSupportsApi30()
    {
        var env = TestModels.Environment;
        var version = Version.Parse(env.Version);
        Assert.True(version >= new Version(1, 30), $"ORT {env.Version} is older than the C API 30 this binding needs");
        Assert.Equal(30, OrtEnvironment.ApiVersion);
        Assert.Equal(Path.GetFullPath(TestModels.LibraryPath()), env.LibraryPath);
    }

    [Fact]
    public unsafe void StatusSlotsRoundTripCodeAndMessage()
    {
        // Slots 0 (CreateStatus), 1 (GetErrorCode), 2 (GetErrorMessage) and 93 (ReleaseStatus): a wrong index
        // would crash or return the wrong code/text here.
        _ = TestModels.Environment;
        var api = OrtEnvironment.Api;
        using var message = new NativeUtf8("slot check: ünïcode");
        var status = api.CreateStatus((int)ErrorCode.InvalidGraph, message.Pointer);
        var e = Assert.Throws<OnnxRuntimeException>(() => NativeApiStatus.VerifySuccess(status));
        Assert.Equal(ErrorCode.InvalidGraph, e.ErrorCode);
        Assert.Equal("slot check: ünïcode", e.NativeMessage);
        Assert.Contains("slot check", e.Message);
    }

    [Fact]
    public void NullStatusIsSuccess() => NativeApiStatus.VerifySuccess(IntPtr.Zero);

    [Fact]
    public void AvailableProvidersListCpuAndWebGpu()
    {
        var providers = TestModels.Environment.GetAvailableProviders();
        Assert.Contains(ExecutionProviders.CpuOrtName, providers);
        // This build (onnxruntime-node 1.30.0) ships the WebGPU provider; losing it would silently drop the GPU path.
        Assert.Contains(ExecutionProviders.WebGpuOrtName, providers);
    }

    [Fact]
    public void InitializeIsIdempotentAndRefusesASecondLibrary()
    {
        var env = TestModels.Environment;
        Assert.Same(env, OrtEnvironment.Initialize(TestModels.LibraryPath()));
        Assert.Same(env, OrtEnvironment.Instance);

        var link = Path.Combine(Path.GetTempPath(), $"ct-ort-link-{Guid.NewGuid():N}.so");
        File.CreateSymbolicLink(link, env.LibraryPath);
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => OrtEnvironment.Initialize(link));
            Assert.Contains(env.LibraryPath, e.Message);
        }
        finally
        {
            File.Delete(link);
        }
    }
}

public class LibraryLoadTests
{
    [Fact]
    public void MissingLibraryNamesThePathAndTheVariable()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-dir", "libonnxruntime.so.1");
        var e = Assert.Throws<OnnxRuntimeLibraryException>(() => OrtEnvironment.Initialize(path));
        Assert.Equal(path, e.AttemptedPath);
        Assert.Contains(path, e.Message);
        Assert.Contains("CAUSALTAP_ORT_LIB", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void FileThatIsNotALibraryIsReportedWithPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ct-not-a-lib-{Guid.NewGuid():N}.so");
        File.WriteAllText(path, "definitely not ELF");
        try
        {
            var e = Assert.Throws<OnnxRuntimeLibraryException>(() => OrtLibrary.Load(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("CAUSALTAP_ORT_LIB", e.Message);
            Assert.NotNull(e.InnerException);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void LibraryWithoutOrtGetApiBaseIsRejected()
    {
        var other = Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "libSystem.Native.so");
        Assert.True(File.Exists(other), other);
        var e = Assert.Throws<OnnxRuntimeLibraryException>(() => OrtLibrary.Load(other));
        Assert.Contains("OrtGetApiBase", e.Message);
    }

    [Fact]
    public void NoPathAndNoVariableExplainsWhatToSet()
    {
        var e = Assert.Throws<OnnxRuntimeLibraryException>(() => OrtLibrary.ResolvePath(null, null));
        Assert.Contains("CAUSALTAP_ORT_LIB", e.Message);
        Assert.Null(e.AttemptedPath);
    }

    [Fact]
    public void VariableIsUsedWhenNoExplicitPathAndNamedInTheError()
    {
        var e = Assert.Throws<OnnxRuntimeLibraryException>(() => OrtLibrary.ResolvePath(null, "/nonexistent/libonnxruntime.so.1"));
        Assert.Contains("/nonexistent/libonnxruntime.so.1", e.Message);
        Assert.Contains("$CAUSALTAP_ORT_LIB", e.Message);
    }
}
