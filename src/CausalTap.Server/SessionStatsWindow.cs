namespace CausalTap.Server;

/// <summary>The last <see cref="Capacity"/> samples of a per-frame time, for p50/p99. Thread-safe (one lock).</summary>
internal sealed class SessionStatsWindow
{
    public const int Capacity = 256;

    private readonly double[] _samples = new double[Capacity];
    private int _count;
    private int _next;

    public void Add(double value)
    {
        lock (_samples)
        {
            _samples[_next] = value;
            _next = (_next + 1) % Capacity;
            if (_count < Capacity) _count++;
        }
    }

    /// <summary>(p50, p99) by nearest rank; zeros when empty.</summary>
    public (double P50, double P99) Percentiles()
    {
        double[] copy;
        lock (_samples)
        {
            if (_count == 0) return (0, 0);
            copy = _samples[.._count];
        }
        Array.Sort(copy);
        return (Rank(copy, 0.50), Rank(copy, 0.99));
    }

    private static double Rank(double[] sorted, double q) =>
        sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}
