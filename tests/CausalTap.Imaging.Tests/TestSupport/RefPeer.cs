using System.Diagnostics;

namespace CausalTap.Imaging.Tests.TestSupport;

/// <summary>Runs py/imaging_ref.py (OpenCV/PIL) and reads its raw outputs.</summary>
public static class RefPeer
{
    private static readonly string s_script = Path.Combine(AppContext.BaseDirectory, "py", "imaging_ref.py");

    /// <summary>Runs a command of the reference script; returns its stdout; throws with stderr on failure.</summary>
    public static string Run(params object[] args)
    {
        var info = new ProcessStartInfo(Requirements.Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(s_script);
        foreach (var a in args)
        {
            info.ArgumentList.Add(Convert.ToString(a, System.Globalization.CultureInfo.InvariantCulture)!);
        }
        using var p = Process.Start(info)!;
        var errTask = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"imaging_ref.py {string.Join(' ', args)} failed: {errTask.Result}");
        }
        return stdout.Trim();
    }

    /// <summary>Writes the deterministic synthetic picture and returns its RGB bytes.</summary>
    public static byte[] Synth(string path, int w, int h, int seed)
    {
        Run("synth", path, w, h, seed);
        return File.ReadAllBytes(path);
    }

    /// <summary>Decodes a file with cv2.imread; returns (width, height, RGB bytes).</summary>
    public static (int W, int H, byte[] Rgb) DecodeWithOpenCv(string imagePath, string outPath)
    {
        var wh = Run("decode", imagePath, outPath).Split(' ');
        return (int.Parse(wh[0]), int.Parse(wh[1]), File.ReadAllBytes(outPath));
    }

    public static float[] ReadFloats(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var f = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, f, 0, f.Length * 4);
        return f;
    }
}

/// <summary>A temporary folder removed at dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = Directory.CreateTempSubdirectory("causaltap-imaging-").FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public static class Pixels
{
    /// <summary>
    /// Decodes <paramref name="encodedFile"/> with <see cref="ImageDecoder"/>, checks its size, and compares it with the
    /// reference decode the peer wrote next to it (<c>FILE.ref.rgb</c>).
    /// </summary>
    public static (int Max, int Count) DecodeAndDiff(string encodedFile, PixelFormat format, int width, int height)
    {
        using var image = new RgbImage();
        new ImageDecoder().Decode(File.ReadAllBytes(encodedFile), format, image);
        Assert.Equal((width, height), (image.Width, image.Height));
        return Diff(image, File.ReadAllBytes(encodedFile + ".ref.rgb"));
    }

    /// <summary>Largest absolute difference between an image and packed RGB bytes, and how many bytes differ.</summary>
    public static (int Max, int Count) Diff(RgbImage image, ReadOnlySpan<byte> expected)
    {
        int max = 0, count = 0;
        for (var y = 0; y < image.Height; y++)
        {
            var row = image.Row(y);
            var exp = expected.Slice(y * image.Width * 3, image.Width * 3);
            for (var i = 0; i < row.Length; i++)
            {
                var d = Math.Abs(row[i] - exp[i]);
                if (d > 0)
                {
                    count++;
                    max = Math.Max(max, d);
                }
            }
        }
        return (max, count);
    }
}
