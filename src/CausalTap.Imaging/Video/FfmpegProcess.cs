using System.ComponentModel;
using System.Diagnostics;

namespace CausalTap.Imaging.Video;

/// <summary>
/// Starts <c>ffmpeg</c>/<c>ffprobe</c> as child processes with binary stdin/stdout pipes, and keeps the tail of
/// their stderr for error messages. Stderr is drained on a background reader so a chatty ffmpeg can never
/// block on a full pipe while we wait on stdout.
/// </summary>
internal sealed class FfmpegProcess : IDisposable
{
    private const int KeptLines = 12;
    private readonly Queue<string> _stderr = new();
    private readonly Process _process;

    private FfmpegProcess(Process process)
    {
        _process = process;
    }

    public Process Process => _process;

    public Stream StandardOutput => _process.StandardOutput.BaseStream;

    public Stream StandardInput => _process.StandardInput.BaseStream;

    /// <summary>
    /// The executable for <paramref name="tool"/> ("ffmpeg" or "ffprobe"): the explicit path if given, else the
    /// environment variable CAUSALTAP_FFMPEG / CAUSALTAP_FFPROBE, else the name (resolved on PATH).
    /// </summary>
    public static string Resolve(string tool, string? explicitPath) =>
        explicitPath ?? Environment.GetEnvironmentVariable("CAUSALTAP_" + tool.ToUpperInvariant()) ?? tool;

    public static FfmpegProcess Start(string executable, IEnumerable<string> arguments, bool redirectInput, bool redirectOutput)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = redirectOutput,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        var process = new Process { StartInfo = info };
        var wrapper = new FfmpegProcess(process);
        process.ErrorDataReceived += (_, e) => wrapper.OnStderr(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            process.Dispose();
            var name = Path.GetFileName(executable);
            throw new ImagingDependencyException(
                $"could not start '{executable}' ({e.Message}). Video input/output needs {name} from FFmpeg: " +
                $"run scripts/setup.sh (Debian/Ubuntu package: ffmpeg), or set CAUSALTAP_{name.ToUpperInvariant()} to its path.", e);
        }
        process.BeginErrorReadLine();
        return wrapper;
    }

    /// <summary>The last lines ffmpeg wrote to stderr, joined; "(no output)" when none.</summary>
    public string StderrTail()
    {
        lock (_stderr)
        {
            return _stderr.Count == 0 ? "(no output)" : string.Join(" | ", _stderr);
        }
    }

    /// <summary>Waits for exit (killing the process after <paramref name="timeout"/>) and returns the exit code.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Kill();
            _process.WaitForExit();
        }
        _process.WaitForExit(); // flushes the async stderr reader
        return _process.ExitCode;
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void OnStderr(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }
        lock (_stderr)
        {
            _stderr.Enqueue(line.Trim());
            while (_stderr.Count > KeptLines)
            {
                _stderr.Dequeue();
            }
        }
    }
}
