using System.Runtime.InteropServices;

namespace CausalTap.Imaging.Native;

/// <summary>
/// The few TurboJPEG 2.x entry points the decoder uses, bound by hand from <c>libturbojpeg.so.0</c>
/// (Debian bookworm's <c>libturbojpeg0</c>, libjpeg-turbo 2.1.5). Loaded once, explicitly, so that a missing
/// library becomes one clear <see cref="ImagingDependencyException"/> instead of a <see cref="DllNotFoundException"/>
/// at some random call site. <c>unsigned long</c> is bound as <see cref="CULong"/> (64-bit on Linux, 32-bit on Windows).
/// </summary>
internal sealed unsafe class TurboJpegLibrary
{
    /// <summary>Library names tried in order (Linux soname first, then generic names for other platforms).</summary>
    internal static readonly string[] DefaultCandidates = ["libturbojpeg.so.0", "libturbojpeg.so", "libturbojpeg.0.dylib", "turbojpeg"];

    // TJPF_* pixel formats (turbojpeg.h).
    public const int PixelFormatRgb = 0;

    // TJFLAG_* flags. STOPONWARNING makes libjpeg warnings (e.g. "Premature end of JPEG file") abort the decode.
    public const int FlagStopOnWarning = 8192;

    // TJERR_* codes returned by tjGetErrorCode.
    public const int ErrorWarning = 0;

    private static readonly Lazy<TurboJpegLibrary> s_shared = new(() => Load(DefaultCandidates), LazyThreadSafetyMode.ExecutionAndPublication);

    // tjhandle tjInitDecompress(void)
    public readonly delegate* unmanaged<IntPtr> InitDecompress;
    // int tjDecompressHeader3(tjhandle, const unsigned char* jpegBuf, unsigned long jpegSize, int* width, int* height, int* jpegSubsamp, int* jpegColorspace)
    public readonly delegate* unmanaged<IntPtr, byte*, CULong, int*, int*, int*, int*, int> DecompressHeader3;
    // int tjDecompress2(tjhandle, const unsigned char* jpegBuf, unsigned long jpegSize, unsigned char* dstBuf, int width, int pitch, int height, int pixelFormat, int flags)
    public readonly delegate* unmanaged<IntPtr, byte*, CULong, byte*, int, int, int, int, int, int> Decompress2;
    // char* tjGetErrorStr2(tjhandle)
    public readonly delegate* unmanaged<IntPtr, byte*> GetErrorStr2;
    // int tjGetErrorCode(tjhandle)
    public readonly delegate* unmanaged<IntPtr, int> GetErrorCode;
    // int tjDestroy(tjhandle)
    public readonly delegate* unmanaged<IntPtr, int> Destroy;

    private TurboJpegLibrary(IntPtr lib, string name)
    {
        Name = name;
        InitDecompress = (delegate* unmanaged<IntPtr>)Export(lib, name, "tjInitDecompress");
        DecompressHeader3 = (delegate* unmanaged<IntPtr, byte*, CULong, int*, int*, int*, int*, int>)Export(lib, name, "tjDecompressHeader3");
        Decompress2 = (delegate* unmanaged<IntPtr, byte*, CULong, byte*, int, int, int, int, int, int>)Export(lib, name, "tjDecompress2");
        GetErrorStr2 = (delegate* unmanaged<IntPtr, byte*>)Export(lib, name, "tjGetErrorStr2");
        GetErrorCode = (delegate* unmanaged<IntPtr, int>)Export(lib, name, "tjGetErrorCode");
        Destroy = (delegate* unmanaged<IntPtr, int>)Export(lib, name, "tjDestroy");
    }

    /// <summary>The library name that was loaded.</summary>
    public string Name { get; }

    /// <summary>The process-wide instance (loaded on first use).</summary>
    public static TurboJpegLibrary Shared
    {
        get
        {
            try
            {
                return s_shared.Value;
            }
            catch (ImagingDependencyException e)
            {
                // Lazy caches the exception; rethrow a fresh copy so each caller gets a clean stack.
                throw new ImagingDependencyException(e.Message, e.InnerException);
            }
        }
    }

    /// <summary>Loads the first of <paramref name="candidates"/> that exists and binds its exports.</summary>
    internal static TurboJpegLibrary Load(IReadOnlyList<string> candidates)
    {
        foreach (var name in candidates)
        {
            if (NativeLibrary.TryLoad(name, typeof(TurboJpegLibrary).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory, out var lib))
            {
                return new TurboJpegLibrary(lib, name);
            }
        }
        throw new ImagingDependencyException(
            $"JPEG decoding needs libjpeg-turbo's TurboJPEG library, and none of {string.Join(", ", candidates)} could be loaded. " +
            "Install it with scripts/setup.sh (Debian/Ubuntu package: libturbojpeg0).");
    }

    public string LastError(IntPtr handle)
    {
        var p = GetErrorStr2(handle);
        return p == null ? "(no message)" : Marshal.PtrToStringUTF8((IntPtr)p) ?? "(no message)";
    }

    private static IntPtr Export(IntPtr lib, string libName, string symbol)
    {
        if (!NativeLibrary.TryGetExport(lib, symbol, out var address))
        {
            throw new ImagingDependencyException(
                $"{libName} has no export {symbol}: TurboJPEG 2.0 or newer is required. Run scripts/setup.sh (package libturbojpeg0).");
        }
        return address;
    }
}

/// <summary>An owned <c>tjhandle</c> for decompression, destroyed with <c>tjDestroy</c>.</summary>
internal sealed unsafe class TurboJpegHandle : SafeHandle
{
    private readonly TurboJpegLibrary _library;

    public TurboJpegHandle(TurboJpegLibrary library) : base(IntPtr.Zero, ownsHandle: true)
    {
        _library = library;
        SetHandle(library.InitDecompress());
        if (IsInvalid)
        {
            // tjInitDecompress reports failures through the global error string (handle = NULL).
            throw new InvalidOperationException($"tjInitDecompress failed: {library.LastError(IntPtr.Zero)}");
        }
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        _library.Destroy(handle);
        return true;
    }
}
