using System.Globalization;
using System.Text;
using CausalTap.Episodes.Tests.TestSupport;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Episodes.Tests;

/// <summary>
/// <c>causaltap replay</c>, run in-process (Program.Main with captured console, like tests/CausalTap.Cli.Tests) with
/// CAUSALTAP_MODELS = the repository's models/.
/// </summary>
[Collection(EpisodeCollection.Name)]
public sealed class ReplayCommandTests(EpisodeFixture fixture) : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly string? _oldModels = Environment.GetEnvironmentVariable("CAUSALTAP_MODELS");

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("CAUSALTAP_MODELS", _oldModels);
        _tmp.Dispose();
    }

    private static (int ExitCode, string Output) RunCli(params string[] args)
    {
        TextWriter oldOut = Console.Out, oldError = Console.Error;
        var output = new StringWriter(new StringBuilder());
        Console.SetOut(output);
        Console.SetError(output);
        try
        {
            return (Cli.Program.Main(args), output.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldError);
        }
    }

    [Fact]
    public void Replay_PrintsTheSummaryAndComparison_WritesCsvAndANewEpisode()
    {
        Environment.SetEnvironmentVariable("CAUSALTAP_MODELS", Path.Combine(EpisodeFixture.RepoRoot, "models"));
        var path = _tmp.File("session.mcap");
        var live = LiveSession.Record(path, LiveSession.JpegFrames(fixture.Jpegs), fixture.Model, TrackingMethod.Tapir, LiveSession.Script);
        string csv = _tmp.File("tracks.csv"), outPath = _tmp.File("replayed.mcap");

        var (rc, output) = RunCli("replay", path, "--csv", csv, "--out", outPath, "--threads", "1");

        Assert.True(rc == 0, output);
        // The model named in the episode's metadata is installed, so it is the one used; its recorded method too.
        Assert.Contains($"model causaltap-default ({Path.Combine(EpisodeFixture.RepoRoot, "models", "causaltap-default")}), method tapir", output);
        var points = live.Sum(u => u.Points.Count);
        Assert.Contains($"replayed {live.Count} frames (160x120), 4 points, model causaltap-default, method tapir, speed max", output);
        Assert.Contains($"vs recorded: max position difference 0 px, visibility agreement 100.0% ({points}/{points} point-frames)", output);

        var lines = File.ReadAllLines(csv);
        Assert.Equal("frame,id,x,y,visible,occlusion_prob,uncertainty", lines[0]);
        Assert.Equal(1 + points, lines.Length);
        var last = lines[^1].Split(',');
        var liveLast = live[^1].Points[^1];
        Assert.Equal(("9", "4"), (last[0], last[1]));
        Assert.Equal(liveLast.X, float.Parse(last[2], CultureInfo.InvariantCulture), 0.001f);

        using var reader = EpisodeReader.Open(outPath);
        Assert.Equal(LiveSession.Metadata() with { ServerVersion = reader.Metadata!.ServerVersion }, reader.Metadata);
        var updates = reader.ReadEvents().OfType<EpisodeUpdate>().Select(u => u.Update).ToList();
        Assert.Equal(live.Select(u => u.Points), updates.Select(u => u.Points));
    }

    [Fact]
    public void Replay_WithAnUnknownModelOrAMissingEpisode_FailsWithAClearError()
    {
        Environment.SetEnvironmentVariable("CAUSALTAP_MODELS", Path.Combine(EpisodeFixture.RepoRoot, "models"));
        var (rc, output) = RunCli("replay", _tmp.File("missing.mcap"));
        Assert.Equal(2, rc);
        Assert.Contains("does not exist", output);

        var path = _tmp.File("session.mcap");
        LiveSession.Record(path, LiveSession.JpegFrames(fixture.Jpegs).Take(2).ToList(), fixture.Model, TrackingMethod.Tapir, LiveSession.Script);
        (rc, output) = RunCli("replay", path, "--model", "no-such-model");
        Assert.Equal(2, rc);
        Assert.Contains("model 'no-such-model' not found", output);

        (rc, output) = RunCli("replay", path, "--method", "fused");
        Assert.Equal(2, rc);
        Assert.Contains("--method fused needs", output);
    }
}
