using System.Diagnostics;
using System.Text;

namespace CausalTap.EndToEnd.Tests.TestSupport;

public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    /// <summary>The end of stderr and stdout, for failure messages.</summary>
    public string Tail(int maxChars = 3000)
    {
        string text = $"stdout: {Stdout.Trim()}\nstderr: {Stderr.Trim()}";
        return text.Length <= maxChars ? text : "..." + text[^maxChars..];
    }
}

/// <summary>
/// A child process with its output captured line by line. Tests wait for a line (e.g. "session ID") while the
/// process runs, or run it to completion. Disposing kills it (and its children) if it is still running.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly List<string> _lines = [];
    private readonly SemaphoreSlim _lineAdded = new(0);

    private ChildProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    public static ChildProcess Start(string fileName, IEnumerable<string> args, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string a in args) info.ArgumentList.Add(a);
        E2EEnvironment.ApplyTo(info);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        var child = new ChildProcess(new Process { StartInfo = info });
        child._process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (child._stdout)
            {
                child._stdout.AppendLine(e.Data);
                child._lines.Add(e.Data);
            }
            child._lineAdded.Release();
        };
        child._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (child._stderr) child._stderr.AppendLine(e.Data); };
        child._process.Start();
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Starts the built CLI: <c>dotnet causaltap.dll ARGS</c>.</summary>
    public static ChildProcess StartCli(params string[] args)
    {
        E2EEnvironment.RequireCli();
        return Start("dotnet", [E2EEnvironment.CliDll, .. args], E2EEnvironment.RepoRoot);
    }

    /// <summary>The first stdout line that matches, waiting for it (fails with the output so far on timeout or exit).</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        int seen = 0;
        while (true)
        {
            lock (_stdout)
            {
                for (; seen < _lines.Count; seen++)
                {
                    if (match(_lines[seen])) return _lines[seen];
                }
            }
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync();
                lock (_stdout) if (_lines.Skip(seen).FirstOrDefault(match) is { } late) return late;
                Assert.Fail($"process exited ({_process.ExitCode}) before printing the expected line.\nstdout: {Stdout}\nstderr: {Stderr}");
            }
            try
            {
                await _lineAdded.WaitAsync(TimeSpan.FromMilliseconds(200), cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"no expected line within {timeout.TotalSeconds:0} s.\nstdout: {Stdout}\nstderr: {Stderr}");
            }
        }
    }

    public async Task<ProcessResult> WaitForExitAsync(TimeSpan timeout)
    {
        bool timedOut = false;
        using (var cts = new CancellationTokenSource(timeout))
        {
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                Kill();
            }
        }
        await _process.WaitForExitAsync(); // drains the output readers
        return new ProcessResult(timedOut ? -1 : _process.ExitCode, Stdout, Stderr, timedOut);
    }

    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> args, string workingDirectory, TimeSpan timeout)
    {
        await using ChildProcess child = Start(fileName, args, workingDirectory);
        return await child.WaitForExitAsync(timeout);
    }

    /// <summary>SIGKILL (what Process.Kill sends on Unix): no shutdown code runs, like a power cut.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            // best effort: it was told to die
        }
        _process.Dispose();
        _lineAdded.Dispose();
    }
}
