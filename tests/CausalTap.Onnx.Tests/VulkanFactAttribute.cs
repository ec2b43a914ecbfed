using System.Runtime.InteropServices;

namespace CausalTap.Onnx.Tests;

/// <summary>
/// A fact that is skipped (with the reason) only when Vulkan cannot be set up on this machine: no Vulkan loader
/// (libvulkan.so.1) or no lavapipe ICD file. Where both exist the test runs, and a WebGPU failure fails it.
/// </summary>
public sealed class VulkanFactAttribute : FactAttribute
{
    public VulkanFactAttribute()
    {
        if (Lavapipe.SkipReason() is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>Finds Mesa's lavapipe (CPU Vulkan) ICD and points the Vulkan loader at it.</summary>
public static partial class Lavapipe
{
    private static readonly string[] s_icdCandidates =
    [
        "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
        "/usr/share/vulkan/icd.d/lvp_icd.json",
    ];

    public static string? IcdPath => s_icdCandidates.FirstOrDefault(File.Exists);

    public static string? SkipReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "WebGPU via lavapipe is only set up on Linux";
        }
        if (!NativeLibrary.TryLoad("libvulkan.so.1", out var vulkan))
        {
            return "Vulkan loader libvulkan.so.1 is not installed (apt: libvulkan1)";
        }
        NativeLibrary.Free(vulkan);
        return IcdPath is null
            ? $"no lavapipe ICD at {string.Join(" or ", s_icdCandidates)} (apt: mesa-vulkan-drivers >= 25 from bookworm-backports)"
            : null;
    }

    /// <summary>
    /// Sets VK_ICD_FILENAMES in the native environment. Environment.SetEnvironmentVariable does not reach
    /// getenv() on Unix (.NET keeps its own copy), so the Vulkan loader inside Dawn would never see it.
    /// Must run before the first WebGPU session creates the Dawn instance.
    /// </summary>
    public static void UseForVulkan()
    {
        var icd = IcdPath ?? throw new InvalidOperationException("no lavapipe ICD");
        Environment.SetEnvironmentVariable("VK_ICD_FILENAMES", icd);
        if (setenv("VK_ICD_FILENAMES", icd, 1) != 0)
        {
            throw new InvalidOperationException($"setenv(VK_ICD_FILENAMES) failed: {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int setenv(string name, string value, int overwrite);
}
