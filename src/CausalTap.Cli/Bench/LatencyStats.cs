using System.Diagnostics;

namespace CausalTap.Cli.Bench;

/// <summary>Latency samples (Stopwatch ticks) reduced to the numbers we report.</summary>
internal sealed record LatencyStats(int Count, double MeanMs, double MedianMs, double P99Ms, double MinMs, double MaxMs)
{
    public static LatencyStats FromTicks(long[] ticks)
    {
        if (ticks.Length == 0) throw new ArgumentException("No samples.", nameof(ticks));
        long[] sorted = (long[])ticks.Clone();
        Array.Sort(sorted);
        double ms(long t) => t * 1000.0 / Stopwatch.Frequency;
        return new LatencyStats(
            sorted.Length,
            sorted.Average(t => ms(t)),
            ms(Percentile(sorted, 0.50)),
            ms(Percentile(sorted, 0.99)),
            ms(sorted[0]),
            ms(sorted[^1]));
    }

    /// <summary>Nearest-rank percentile: the smallest sample with at least p of all samples at or below it.</summary>
    public static long Percentile(long[] sorted, double p)
    {
        int rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
