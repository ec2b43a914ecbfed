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
    public void On_a_terminal_a_live_bar_is_drawn_then_the_summary_line()
    {
        var text = new StringWriter();
        var progress = new Progress("track", 4, writer: TextWriter.Synchronized(text), interactive: true);
        progress.Advance();
        progress.Advance(3);
        Thread.Sleep(400); // a few refreshes of the display thread
        progress.Complete();
        string drawn = text.ToString();
        Assert.Contains("4/4 frames", drawn);        // drawn by Spectre.Console's live display
        Assert.Contains("\u001b[", drawn);            // with ANSI control sequences (the bar, clearing it)
        Assert.Matches(@"track: 4 frames in [0-9.]+ s \([0-9.]+ frames/s\)\r?\n$", drawn);
    }

    [Fact]
    public void Without_a_total_the_count_and_rate_are_shown()
    {
        var progress = new Progress("eval", null, writer: new StringWriter(), interactive: false) { Detail = "video 1/2" };
        progress.Advance(7);
        Assert.Matches(@"^eval 7 frames, [0-9.]+ frames/s  video 1/2$", progress.Format());
    }
}
