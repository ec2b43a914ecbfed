using CausalTap.Onnx.Native;

namespace CausalTap.Onnx;

/// <summary>
/// The process-wide ONNX Runtime environment: loads the native library once, creates the one <c>OrtEnv</c>
/// (ORT allows a single environment per process) and holds the CPU memory info and default allocator.
/// It is never released: tearing ORT (and Dawn) down at process exit buys nothing and has crashed before.
/// </summary>
public sealed unsafe class OrtEnvironment
{
    /// <summary>Environment variable naming the ONNX Runtime shared library.</summary>
    public const string LibraryPathVariable = OrtLibrary.LibraryPathVariable;

    private static readonly Lock s_lock = new();
    private static OrtEnvironment? s_instance;
    private static OrtApi? s_api;

    private readonly OrtLibrary _library;
    private readonly EnvHandle _env;

    private OrtEnvironment(OrtLibrary library, EnvHandle env, MemoryInfoHandle cpuMemory, IntPtr allocator, OrtLoggingLevel level)
    {
        _library = library;
        _env = env;
        CpuMemoryInfo = cpuMemory;
        DefaultAllocator = allocator;
        LogLevel = level;
    }

    /// <summary>
    /// Creates the environment. <paramref name="libraryPath"/> (or, when null, <see cref="LibraryPathVariable"/>)
    /// must name <c>libonnxruntime.so.1</c>. Calling again returns the same environment; asking for a different
    /// library once one is loaded throws.
    /// </summary>
    /// <exception cref="OnnxRuntimeLibraryException">The library is missing or cannot be loaded.</exception>
    public static OrtEnvironment Initialize(string? libraryPath = null, OrtLoggingLevel logLevel = OrtLoggingLevel.Warning,
        string logId = "causaltap")
    {
        if (libraryPath is null && Volatile.Read(ref s_instance) is { } current)
        {
            return current;
        }
        // Validate the path first so that a wrong path is reported as such even after initialisation.
        var path = OrtLibrary.ResolvePath(libraryPath);
        lock (s_lock)
        {
            if (s_instance is { } existing)
            {
                if (existing.LibraryPath != path)
                {
                    throw new InvalidOperationException(
                        $"ONNX Runtime is already loaded from '{existing.LibraryPath}'; cannot switch to '{path}' in the same process.");
                }
                return existing;
            }

            var library = OrtLibrary.Load(path);
            s_api = library.Api;
            var api = library.Api;
            IntPtr env, memoryInfo, allocator;
            using (var id = new NativeUtf8(logId))
            {
                NativeApiStatus.VerifySuccess(api.CreateEnv((int)logLevel, id.Pointer, &env));
            }
            var envHandle = new EnvHandle(env);
            // OrtArenaAllocator (1) + OrtMemTypeDefault (0): the CPU memory description for user buffers.
            NativeApiStatus.VerifySuccess(api.CreateCpuMemoryInfo(1, 0, &memoryInfo));
            NativeApiStatus.VerifySuccess(api.GetAllocatorWithDefaultOptions(&allocator));
            s_instance = new OrtEnvironment(library, envHandle, new MemoryInfoHandle(memoryInfo), allocator, logLevel);
            return s_instance;
        }
    }

    /// <summary>The environment, created on first use from <see cref="LibraryPathVariable"/> with default logging.</summary>
    public static OrtEnvironment Instance => Volatile.Read(ref s_instance) ?? Initialize();

    /// <summary>Whether <see cref="Initialize"/> has succeeded in this process.</summary>
    public static bool IsInitialized => Volatile.Read(ref s_instance) is not null;

    /// <summary>Full path of the loaded native library.</summary>
    public string LibraryPath => _library.Path;

    /// <summary>ONNX Runtime version string from <c>OrtApiBase::GetVersionString</c> (e.g. "1.30.0").</summary>
    public string Version => _library.Version;

    /// <summary>The logging level the environment was created with.</summary>
    public OrtLoggingLevel LogLevel { get; }

    /// <summary>The C API version this binding uses.</summary>
    public static int ApiVersion => (int)OrtApi.Version;

    /// <summary>
    /// Names of the execution providers compiled into the loaded library (e.g. "CPUExecutionProvider",
    /// "WebGpuExecutionProvider"). A listed provider may still fail to load if its dependencies are missing.
    /// </summary>
    public IReadOnlyList<string> GetAvailableProviders()
    {
        byte** names;
        int count;
        NativeApiStatus.VerifySuccess(Api.GetAvailableProviders(&names, &count));
        try
        {
            var result = new string[count];
            for (var i = 0; i < count; i++)
            {
                result[i] = Utf8.FromNative(names[i]);
            }
            return result;
        }
        finally
        {
            NativeApiStatus.VerifySuccess(Api.ReleaseAvailableProviders(names, count));
        }
    }

    internal EnvHandle Handle => _env;
    internal MemoryInfoHandle CpuMemoryInfo { get; }
    internal IntPtr DefaultAllocator { get; }

    /// <summary>The bound API table; initialises the environment on first use.</summary>
    internal static OrtApi Api => Volatile.Read(ref s_api) ?? Instance._library.Api;
}
