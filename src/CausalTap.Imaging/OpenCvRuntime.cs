using OpenCvSharp;

namespace CausalTap.Imaging;

/// <summary>
/// Checks once that OpenCV's native library (libOpenCvSharpExtern.so from OpenCvSharp4.official.runtime.linux-x64)
/// loads, so a machine without its system libraries gets one clear message instead of a type-initialiser error.
/// </summary>
public static class OpenCvRuntime
{
    private static readonly Lazy<string?> s_failure = new(Probe);

    /// <summary>The OpenCV version, e.g. "4.13.0".</summary>
    /// <exception cref="ImagingDependencyException">the native library does not load.</exception>
    public static string Version
    {
        get
        {
            EnsureLoaded();
            return Cv2.GetVersionString() ?? "";
        }
    }

    /// <exception cref="ImagingDependencyException">the native library does not load.</exception>
    public static void EnsureLoaded()
    {
        if (s_failure.Value is { } reason)
        {
            throw new ImagingDependencyException(
                $"OpenCV's native library cannot load ({reason}); install its system libraries with scripts/setup.sh " +
                "(Debian: apt-get install libgtk-3-0 libdrm2 libatomic1)");
        }
    }

    private static string? Probe()
    {
        try
        {
            _ = Cv2.GetVersionString();
            return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or BadImageFormatException or EntryPointNotFoundException)
        {
            return (ex.InnerException ?? ex).Message;
        }
    }
}
