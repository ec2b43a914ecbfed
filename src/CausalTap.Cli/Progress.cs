using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace CausalTap.Cli;

/// <summary>
/// Progress of long work (track, eval, replay, bench). On a terminal, Spectre.Console draws a live progress bar on
/// stderr (description, bar, percentage, rate, elapsed time), from its own thread while the work runs on the
/// caller's; when stderr is not a terminal (a pipe, a log file, a test) nothing is drawn while working. Either way
/// <see cref="Complete"/> ends with one summary line.
/// </summary>
internal sealed class Progress
{
    private readonly TextWriter _writer;
    private readonly string _label;
    private readonly string _unit;
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly Thread? _display;
    private readonly ManualResetEventSlim _finished = new();
    private long _done;
    private long _total = -1; // -1 = unknown
    private volatile string? _detail;
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
        _unit = unit;
        Total = total;
        if (interactive ?? !Console.IsErrorRedirected)
        {
            IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(_writer),
                Ansi = AnsiSupport.Yes,
                Interactive = InteractionSupport.Yes,
            });
            _display = new Thread(() => Show(console)) { IsBackground = true, Name = "progress" };
            _display.Start();
        }
    }

    /// <summary>Units to do, when known.</summary>
    public long? Total
    {
        get => Interlocked.Read(ref _total) is var t and >= 0 ? t : null;
        set => Interlocked.Exchange(ref _total, value ?? -1);
    }

    /// <summary>Units done so far.</summary>
    public long Done => Interlocked.Read(ref _done);

    /// <summary>Free text shown after the counts (e.g. the current video).</summary>
    public string? Detail { get => _detail; set => _detail = value; }

    /// <summary>Seconds since the start.</summary>
    public double ElapsedSeconds => Stopwatch.GetElapsedTime(_start).TotalSeconds;

    /// <summary>Units per second so far.</summary>
    public double Rate => ElapsedSeconds > 0 ? Done / ElapsedSeconds : 0;

    /// <summary>Adds <paramref name="count"/> done units (the display picks them up on its next refresh).</summary>
    public void Advance(long count = 1) => Interlocked.Add(ref _done, count);

    /// <summary>Ends the display (a terminal's bar is cleared), then prints one summary line.</summary>
    public void Complete(string? summary = null)
    {
        if (_completed) return;
        _completed = true;
        _finished.Set();
        _display?.Join();
        _writer.WriteLine(summary ?? $"{_label}: {Done} {_unit} in {ElapsedSeconds.ToString("F1", CultureInfo.InvariantCulture)} s ({Rate.ToString("F1", CultureInfo.InvariantCulture)} {_unit}/s)");
        _writer.Flush();
    }

    /// <summary>The text shown next to the bar: counts, rate and detail (exposed for tests).</summary>
    public string Format()
    {
        var inv = CultureInfo.InvariantCulture;
        string counts = Total is { } total ? $"{Done}/{total} {_unit}" : $"{Done} {_unit}";
        string line = $"{_label} {counts}, {Rate.ToString("F1", inv)} {_unit}/s";
        return Detail is { Length: > 0 } d ? $"{line}  {d}" : line;
    }

    /// <summary>The display thread: Spectre's live progress, refreshed from the counters until Complete.</summary>
    private void Show(IAnsiConsole console)
    {
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask(Markup.Escape(_label));
                do
                {
                    long? total = Total;
                    task.IsIndeterminate = total is null;
                    task.MaxValue = Math.Max(1, total ?? 1);
                    task.Value = total is null ? 0 : Math.Min(Done, task.MaxValue);
                    task.Description = Markup.Escape(Format());
                }
                while (!_finished.Wait(100));
                task.StopTask();
            });
    }
}
