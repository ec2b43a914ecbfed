namespace CausalTap.Cli.Tests;

public class ProgressTests
{
    [Fact]
    public void Off_a_terminal_only_the_summary_line_is_printed()
    {
        var output = new StringWriter();
        var progress = new Progress("track", 10, writer: output, interactive: false);
        for (int i = 0; i < 10; i++) progress.Advance();
        Assert.Equal("", output.ToString());
        progress.Complete("track: done");
        Assert.Equal("track: done" + Environment.NewLine, output.ToString());
    }

    [Fact]
    public void On_a_terminal_one_line_is_rewritten_then_cleared_for_the_summary()
    {
        var output = new StringWriter();
        var progress = new Progress("track", 4, writer: output, interactive: true);
        progress.Advance();
        progress.Advance(3); // reaching the total always redraws
        string drawn = output.ToString();
        Assert.StartsWith("\rtrack [", drawn);
        Assert.Contains("4/4 frames (100%)", drawn);
        Assert.DoesNotContain("\n", drawn);
        progress.Complete();
        Assert.Matches(@"track: 4 frames in [0-9.]+ s", output.ToString());
    }

    [Fact]
    public void Without_a_total_the_count_and_rate_are_shown()
    {
        var progress = new Progress("eval", null, writer: new StringWriter(), interactive: false) { Detail = "video 1/2" };
        progress.Advance(7);
        Assert.Matches(@"^eval 7 frames, [0-9.]+ frames/s, [0-9]+ s  video 1/2$", progress.Format());
    }
}
