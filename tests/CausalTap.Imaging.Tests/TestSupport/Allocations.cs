using System.Diagnostics;

namespace CausalTap.Imaging.Tests.TestSupport;

/// <summary>Measures managed allocations of a hot-path call once the JIT has settled.</summary>
public static class Allocations
{
    /// <summary>
    /// Runs <paramref name="action"/> for about <paramref name="warmup"/> first (tiered compilation promotes hot
    /// methods on a background timer, and the one-time promotion can allocate on the calling thread), then
    /// returns the bytes allocated on this thread by <paramref name="calls"/> further calls, and the best mean
    /// time over rounds of 5 calls (the least disturbed by other load on a shared machine). Informational only.
    /// </summary>
    public static (long Bytes, double MsPerCall) Measure(Action action, int calls, TimeSpan? warmup = null)
    {
        var until = Stopwatch.GetTimestamp() + (long)((warmup ?? TimeSpan.FromMilliseconds(600)).TotalSeconds * Stopwatch.Frequency);
        var n = 0;
        while (n < 10 || Stopwatch.GetTimestamp() < until)
        {
            action();
            n++;
        }
        var best = double.MaxValue;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var done = 0; done < calls; done += 5)
        {
            var start = Stopwatch.GetTimestamp();
            var round = Math.Min(5, calls - done);
            for (var i = 0; i < round; i++)
            {
                action();
            }
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMilliseconds / round);
        }
        return (GC.GetAllocatedBytesForCurrentThread() - before, best);
    }
}
