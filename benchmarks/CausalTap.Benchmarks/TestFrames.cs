using System.Diagnostics;

namespace CausalTap.Benchmarks;

/// <summary>
/// Camera-like test frames, encoded by an independent encoder (Python's OpenCV, a set-up dependency) so that the
/// bytes are the same whichever decoder is measured.
/// </summary>
internal static class TestFrames
{
    /// <summary>A 640x480 JPEG (quality 90) of smooth gradients plus sensor-like noise, about 50-70 KB.</summary>
    public static byte[] Jpeg640x480()
    {
        string path = Path.Combine(Path.GetTempPath(), "causaltap-bench-640x480.jpg");
        if (!File.Exists(path))
        {
            const string script =
                "import sys, numpy as np, cv2\n" +
                "rng = np.random.default_rng(7)\n" +
                "y, x = np.mgrid[0:480, 0:640]\n" +
                "base = np.stack([x * 255 / 639, y * 255 / 479, (x + y) * 255 / 1118], -1)\n" +
                "img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)\n" +
                "cv2.imwrite(sys.argv[1], img, [cv2.IMWRITE_JPEG_QUALITY, 90])\n";
            var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardError = true };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(script);
            psi.ArgumentList.Add(path);
            using var process = Process.Start(psi)!;
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException($"encoding the test JPEG failed: {error}");
        }
        return File.ReadAllBytes(path);
    }

    /// <summary>The repository's models/ folder (the bundled default model), found above the benchmark's output folder.</summary>
    public static string ModelsDirectory()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string models = Path.Combine(dir.FullName, "models");
            if (File.Exists(Path.Combine(models, "causaltap-default", "model.json"))) return models;
        }
        throw new DirectoryNotFoundException($"no models/causaltap-default above {AppContext.BaseDirectory}");
    }
}
