using System.Diagnostics;
using CausalTap.Imaging;
using CausalTap.Tracking;

namespace CausalTap.Episodes.Tests.TestSupport;

/// <summary>The tests that run the tracker share one model and one set of synthetic frames, one test at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EpisodeCollection : ICollectionFixture<EpisodeFixture>
{
    public const string Name = "episodes";
}

/// <summary>
/// Process-wide set-up for the episode tests: the bundled
/// default model (models/causaltap-default, TAPIR only) and <see cref="FrameCount"/> synthetic JPEG frames made by
/// python's OpenCV (a textured scene panning 3 px right and 2 px down per frame, 160x120).
/// </summary>
public sealed class EpisodeFixture : IDisposable
{
    public const int FrameCount = 10;
    public const int Width = 160;
    public const int Height = 120;

    private readonly TempDir _frames = new();

    public EpisodeFixture()
    {
        ModelPath = Path.Combine(RepoRoot, "models", "causaltap-default");
        // One intra-op thread: the tests share two cores with other work, and it keeps runs comparable.
        Model = TrackerModel.Load(ModelDirectory.Open(ModelPath), new TrackerOptions(IntraOpThreads: 1));
        Jpegs = MakeJpegs(_frames.Path);
    }

    public static string RepoRoot { get; } = CausalTap.TestShared.TestRepo.Root;

    public string ModelPath { get; }

    public TrackerModel Model { get; }

    /// <summary>The encoded frames, in order.</summary>
    public IReadOnlyList<byte[]> Jpegs { get; }

    /// <summary>Folder holding the frames as 000.jpg, 001.jpg, ...</summary>
    public string FrameDir => _frames.Path;

    /// <summary>Frame <paramref name="k"/> decoded to RGB.</summary>
    public RgbImage Decode(int k)
    {
        using var decoder = new FrameDecoder();
        var image = new RgbImage();
        decoder.Decode(Jpegs[k], PixelFormat.Jpeg, image);
        return image;
    }

    public void Dispose()
    {
        Model.Dispose();
        _frames.Dispose();
    }

    /// <summary>Runs /usr/bin/python3 with <paramref name="args"/>; returns stdout, throws with stderr on failure.</summary>
    public static string Python(params string[] args)
    {
        var info = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        using var p = Process.Start(info)!;
        var err = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"python3 {string.Join(' ', args.Take(1))} failed ({p.ExitCode}): {err.Result}");
        }
        return stdout;
    }

    private static List<byte[]> MakeJpegs(string dir)
    {
        const string script = """
            import sys, numpy as np, cv2
            out, n, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
            rng = np.random.default_rng(7)
            scene = cv2.GaussianBlur((rng.random((h + 64, w + 64, 3)) * 255).astype(np.uint8), (0, 0), 2)
            for _ in range(16):
                centre = (int(rng.integers(0, w + 64)), int(rng.integers(0, h + 64)))
                cv2.circle(scene, centre, int(rng.integers(4, 14)), tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
            for k in range(n):
                cv2.imwrite(f"{out}/{k:03d}.jpg", scene[2 * k:2 * k + h, 3 * k:3 * k + w], [cv2.IMWRITE_JPEG_QUALITY, 90])
            """;
        Python("-c", script, dir, FrameCount.ToString(), Width.ToString(), Height.ToString());
        return Enumerable.Range(0, FrameCount).Select(k => File.ReadAllBytes(Path.Combine(dir, $"{k:000}.jpg"))).ToList();
    }
}
