using CausalTap.Tracking.Evaluation;

namespace CausalTap.Cli.Tests;

public class TapVidRunnerTests
{
    [Fact]
    public void Truncate_keeps_the_first_frames_and_the_points_queried_within_them()
    {
        const int T = 5, H = 2, W = 3;
        var video = new byte[T * H * W * 3];
        for (int i = 0; i < video.Length; i++) video[i] = (byte)(i / (H * W * 3)); // each frame filled with its index
        float[] query = [0, 1, 1, 3, 1, 2, 1, 0, 2]; // (t,y,x): frames 0, 3, 1
        var target = new float[3 * T * 2];
        for (int i = 0; i < target.Length; i++) target[i] = i;
        var occluded = new bool[3 * T];
        occluded[2 * T + 1] = true;
        var example = new TapVidExample(NpyArray.Create(video, T, H, W, 3), query, target, occluded, TapVidQueryMode.Strided, "x");

        TapVidExample cut = TapVidRunner.Truncate(example, 3);

        Assert.Equal(3, cut.NumFrames);
        Assert.Equal(2, cut.NumPoints); // the point queried on frame 3 is dropped
        Assert.Equal(new[] { 0, 1 }, cut.QueryFrames);
        Assert.Equal(2, cut.Frame(2)[0]);
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, cut.TargetPoints![..6]);
        Assert.Equal(new float[] { 20, 21, 22, 23, 24, 25 }, cut.TargetPoints![6..]); // third point's row
        Assert.True(cut.Occluded![3 + 1]);
        Assert.Equal(TapVidQueryMode.Strided, cut.QueryMode);
        Assert.Same(example, TapVidRunner.Truncate(example, 5));
        Assert.Same(example, TapVidRunner.Truncate(example, null));
    }

    [Fact]
    public void Strided_mode_needs_a_backward_pass_only_up_to_the_latest_query()
    {
        var video = new byte[6 * 2 * 2 * 3];
        var example = new TapVidExample(NpyArray.Create(video, 6, 2, 2, 3), [0, 1, 1, 2, 1, 1], null, null);
        Assert.Equal(6, TapVidRunner.FramesNeeded(example, TapVidQueryMode.First));
        Assert.Equal(6 + 3, TapVidRunner.FramesNeeded(example, TapVidQueryMode.Strided)); // reversed frames 3..5 = source 2..0
    }
}
