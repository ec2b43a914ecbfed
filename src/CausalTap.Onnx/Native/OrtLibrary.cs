using System.Runtime.InteropServices;

namespace CausalTap.Onnx.Native;

/// <summary>
/// Loads <c>libonnxruntime.so.1</c> from an explicit path (or <see cref="LibraryPathVariable"/>) and binds the
/// C API table. No probing of system paths: the server must run against the pinned library it was tested with.
/// </summary>
internal sealed unsafe class OrtLibrary
{
    /// <summary>Environment variable naming the ONNX Runtime shared library (set by the launcher and scripts/test.sh).</summary>
    public const string LibraryPathVariable = "CAUSALTAP_ORT_LIB";

    public string Path { get; }
    public IntPtr Handle { get; }
    public OrtApi Api { get; }
    public string Version { get; }

    private OrtLibrary(string path, IntPtr handle, OrtApi api, string version)
    {
        Path = path;
        Handle = handle;
        Api = api;
        Version = version;
    }

    /// <summary>Resolves the library path: the explicit argument wins, then <see cref="LibraryPathVariable"/>.</summary>
    public static string ResolvePath(string? explicitPath) =>
        ResolvePath(explicitPath, Environment.GetEnvironmentVariable(LibraryPathVariable));

    /// <summary>As <see cref="ResolvePath(string?)"/> with the variable's value passed in (testable without mutating the process).</summary>
    public static string ResolvePath(string? explicitPath, string? fromEnv)
    {
        var path = !string.IsNullOrWhiteSpace(explicitPath) ? explicitPath : fromEnv;
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new OnnxRuntimeLibraryException(null,
                $"No ONNX Runtime library path given: pass one explicitly or set the environment variable " +
                $"{LibraryPathVariable} to the path of libonnxruntime.so.1 (scripts/setup.sh puts it in .deps/onnxruntime/).");
        }

        var source = !string.IsNullOrWhiteSpace(explicitPath) ? "the libraryPath argument" : $"${LibraryPathVariable}";
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new OnnxRuntimeLibraryException(full,
                $"ONNX Runtime library not found at '{full}' (from {source}). Set {LibraryPathVariable} or pass " +
                "the path of libonnxruntime.so.1 explicitly; scripts/setup.sh installs it in .deps/onnxruntime/.");
        }
        return full;
    }

    /// <summary>Loads the library at <paramref name="explicitPath"/> (or the env var) and binds API version 30.</summary>
    public static OrtLibrary Load(string? explicitPath)
    {
        var path = ResolvePath(explicitPath);
        IntPtr handle;
        try
        {
            handle = NativeLibrary.Load(path);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            throw new OnnxRuntimeLibraryException(path,
                $"Could not load the ONNX Runtime library '{path}' (check {LibraryPathVariable}): {e.Message}", e);
        }

        if (!NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out var getApiBase))
        {
            NativeLibrary.Free(handle);
            throw new OnnxRuntimeLibraryException(path,
                $"'{path}' does not export OrtGetApiBase; it is not an ONNX Runtime library (check {LibraryPathVariable}).");
        }

        var apiBase = ((delegate* unmanaged<OrtApiBase*>)getApiBase)();
        var version = Marshal.PtrToStringUTF8((IntPtr)apiBase->GetVersionString()) ?? "unknown";
        var table = apiBase->GetApi(OrtApi.Version);
        if (table == IntPtr.Zero)
        {
            // The library stays loaded: unloading a half-initialised ORT is not worth the risk.
            throw new OnnxRuntimeLibraryException(path,
                $"ONNX Runtime {version} at '{path}' does not provide C API version {OrtApi.Version} (needs ORT >= 1.{OrtApi.Version}).");
        }
        return new OrtLibrary(path, handle, new OrtApi(table), version);
    }
}
