using System.Diagnostics;
using CausalTap.Cli.Bench;

namespace CausalTap.Cli.Tests;

public class LatencyStatsTests
{
    [Fact]
    public void Percentiles_use_nearest_rank()
    {
        long[] sorted = Enumerable.Range(1, 100).Select(i => (long)i).ToArray();
        Assert.Equal(50, LatencyStats.Percentile(sorted, 0.50));
        Assert.Equal(99, LatencyStats.Percentile(sorted, 0.99));
        Assert.Equal(100, LatencyStats.Percentile(sorted, 1.0));
        Assert.Equal(1, LatencyStats.Percentile(new long[] { 1 }, 0.99));
    }

    [Fact]
    public void Stats_convert_ticks_to_milliseconds_whatever_the_sample_order()
    {
        long ms = Stopwatch.Frequency / 1000;
        long[] samples = Enumerable.Range(1, 200).Reverse().Select(i => i * ms).ToArray();
        LatencyStats s = LatencyStats.FromTicks(samples);
        Assert.Equal(200, s.Count);
        Assert.Equal(100, s.MedianMs, 6);
        Assert.Equal(198, s.P99Ms, 6);
        Assert.Equal(1, s.MinMs, 6);
        Assert.Equal(200, s.MaxMs, 6);
        Assert.Equal(100.5, s.MeanMs, 6);
    }
}
