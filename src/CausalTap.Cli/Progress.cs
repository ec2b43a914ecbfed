using System.Diagnostics;
using System.Globalization;

namespace CausalTap.Cli;

/// <summary>
/// A progress line for long work: on a terminal, one line on stderr rewritten in place (at most ~10 times a
/// second) with a bar, done/total, rate and elapsed time; when stderr is not a terminal (a pipe, a log file,
/// a test) nothing is drawn while working and <see cref="Complete"/> prints one summary line instead.
/// </summary>
internal sealed class Progress
{
    private const int BarWidth = 24;
    private static readonly long s_redrawTicks = Stopwatch.Frequency / 10;
    private readonly TextWriter _writer;
    private readonly string _label;
    private readonly string _unit;
    private readonly bool _interactive;
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _lastDraw;
    private int _lastLength;
    private bool _completed;

    /// <param name="label">what is being done ("tracking", "eval").</param>
    /// <param name="total">number of units when known, else null.</param>
    /// <param name="unit">the unit's name ("frames").</param>
    /// <param name="writer">where to draw; stderr by default.</param>
    /// <param name="interactive">null = stderr is a terminal.</param>
    public Progress(string label, long? total, string unit = "frames", TextWriter? writer = null, bool? interactive = null)
    {
        _writer = writer ?? Console.Error;
        _label = label;
        Total = total;
        _unit = unit;
        _interactive = interactive ?? !Console.IsErrorRedirected;
    }

    /// <summary>Units to do, when known.</summary>
    public long? Total { get; set; }

    /// <summary>Units done so far.</summary>
    public long Done { get; private set; }

    /// <summary>Free text shown after the counts (e.g. the current video).</summary>
    public string? Detail { get; set; }

    /// <summary>Seconds since the start.</summary>
    public double ElapsedSeconds => Stopwatch.GetElapsedTime(_start).TotalSeconds;

    /// <summary>Units per second so far.</summary>
    public double Rate => ElapsedSeconds > 0 ? Done / ElapsedSeconds : 0;

    /// <summary>Adds <paramref name="count"/> done units and redraws if it is time to.</summary>
    public void Advance(long count = 1)
    {
        Done += count;
        if (!_interactive) return;
        long now = Stopwatch.GetTimestamp();
        if (now - _lastDraw < s_redrawTicks && Done != Total) return;
        _lastDraw = now;
        Draw(Format());
    }

    /// <summary>Ends the progress display: clears the line on a terminal, then prints one summary line.</summary>
    public void Complete(string? summary = null)
    {
        if (_completed) return;
        _completed = true;
        if (_interactive && _lastLength > 0)
        {
            _writer.Write("\r" + new string(' ', _lastLength) + "\r");
        }
        _writer.WriteLine(summary ?? $"{_label}: {Done} {_unit} in {ElapsedSeconds.ToString("F1", CultureInfo.InvariantCulture)} s ({Rate.ToString("F1", CultureInfo.InvariantCulture)} {_unit}/s)");
        _writer.Flush();
    }

    /// <summary>The progress line as drawn (exposed for tests).</summary>
    public string Format()
    {
        var inv = CultureInfo.InvariantCulture;
        string counts, bar = "";
        if (Total is > 0 and var total)
        {
            double fraction = Math.Clamp(Done / (double)total, 0, 1);
            int filled = (int)Math.Round(fraction * BarWidth);
            bar = "[" + new string('#', filled) + new string('-', BarWidth - filled) + "] ";
            counts = $"{Done}/{total} {_unit} ({(fraction * 100).ToString("F0", inv)}%)";
        }
        else
        {
            counts = $"{Done} {_unit}";
        }
        string line = $"{_label} {bar}{counts}, {Rate.ToString("F1", inv)} {_unit}/s, {ElapsedSeconds.ToString("F0", inv)} s";
        return Detail is { Length: > 0 } ? $"{line}  {Detail}" : line;
    }

    private void Draw(string line)
    {
        int pad = Math.Max(0, _lastLength - line.Length);
        _writer.Write("\r" + line + new string(' ', pad));
        _writer.Flush();
        _lastLength = line.Length;
    }
}
