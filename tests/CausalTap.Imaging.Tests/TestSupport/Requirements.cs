using System.Diagnostics;

namespace CausalTap.Imaging.Tests.TestSupport;

/// <summary>
/// What the environment offers, checked once per test run. Each check returns null when available, otherwise
/// the reason a test that needs it is skipped (with the package to install).
/// </summary>
public static class Requirements
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> s_python = new(() =>
        !File.Exists(Python)
            ? $"{Python} not found (apt: python3 python3-opencv python3-pil python3-numpy)"
            : RunQuietly(Python, "-c", "import cv2, PIL, numpy") ? null
            : $"{Python} cannot import cv2/PIL/numpy (apt: python3-opencv python3-pil python3-numpy)");

    private static readonly Lazy<string?> s_ffmpeg = new(() =>
        RunQuietly("ffmpeg", "-version") && RunQuietly("ffprobe", "-version") ? null : "ffmpeg/ffprobe not on PATH (apt: ffmpeg)");

    public static string? PythonMissing => s_python.Value;

    public static string? FfmpegMissing => s_ffmpeg.Value;

    /// <summary>
    /// The shared data folder: $CAUSALTAP_SHARED/data, else ../shared/data next to the repository root
    /// (found by walking up from the test binaries to CausalTap.sln). Null when absent.
    /// </summary>
    public static string? SharedData
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("CAUSALTAP_SHARED");
            if (!string.IsNullOrEmpty(env))
            {
                var d = Path.Combine(env, "data");
                return Directory.Exists(d) ? d : null;
            }
            if (CausalTap.TestShared.TestRepo.TryRoot is { } root)
            {
                var d = Path.GetFullPath(Path.Combine(root, "..", "shared", "data"));
                return Directory.Exists(d) ? d : null;
            }
            return null;
        }
    }

    private static bool RunQuietly(string exe, params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args)
            {
                info.ArgumentList.Add(a);
            }
            using var p = Process.Start(info)!;
            p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}

/// <summary>A fact that is skipped, with the reason, when the Python reference peer (OpenCV + PIL) is missing.</summary>
public sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute()
    {
        if (Requirements.PythonMissing is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A fact that is skipped, with the reason, when ffmpeg/ffprobe are not installed.</summary>
public sealed class FfmpegFactAttribute : FactAttribute
{
    public FfmpegFactAttribute()
    {
        if (Requirements.FfmpegMissing is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>
/// A fact that is skipped when a path under the shared data folder is absent (and, optionally, when Python or
/// ffmpeg are missing). The skip is decided at discovery time, so a skipped test is reported as skipped, not passed.
/// </summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute(string relativePath, bool needsPython = false, bool needsFfmpeg = false)
    {
        var data = Requirements.SharedData;
        if (data is null)
        {
            Skip = "shared data not found: set CAUSALTAP_SHARED to the shared folder or place it at ../shared next to the repository";
        }
        else if (!Path.Exists(Path.Combine(data, relativePath)))
        {
            Skip = $"shared data has no {relativePath}";
        }
        else if (needsPython && Requirements.PythonMissing is { } py)
        {
            Skip = py;
        }
        else if (needsFfmpeg && Requirements.FfmpegMissing is { } ff)
        {
            Skip = ff;
        }
    }
}

/// <summary>A theory that is skipped, with the reason, when the Python reference peer is missing.</summary>
public sealed class PythonTheoryAttribute : TheoryAttribute
{
    public PythonTheoryAttribute()
    {
        if (Requirements.PythonMissing is { } reason)
        {
            Skip = reason;
        }
    }
}
