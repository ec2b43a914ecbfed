using System.Runtime.InteropServices;
using CausalTap.Imaging;
using CausalTap.Imaging.Video;
using Grpc.Core;

namespace CausalTap.Cli;

/// <summary>
/// Ctrl+C / SIGTERM for the client commands: the first signal cancels the token so the command can finish cleanly
/// (complete the call, print its summary, close its session); a second one terminates at once. Program.Main invokes
/// commands synchronously, and System.CommandLine only wires signals to the action's token in async invocation.
/// </summary>
internal sealed class TerminationSignals : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly PosixSignalRegistration[] _registrations;
    private int _signals;

    public TerminationSignals(CancellationToken outer)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal)];
    }

    public CancellationToken Token => _cts.Token;

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _signals) > 1) return; // second signal: default action, the process ends
        context.Cancel = true;
        // Cancel off the signal thread: continuations must not run (or block) on it.
        ThreadPool.QueueUserWorkItem(_ => _cts.Cancel());
    }

    public void Dispose()
    {
        foreach (PosixSignalRegistration r in _registrations) r.Dispose();
        _cts.Dispose();
    }
}

/// <summary>Maps the errors a client command can meet to a message and an exit code.</summary>
internal static class ClientErrors
{
    /// <summary>Runs a client command with Ctrl+C/SIGTERM wired to its token (see <see cref="TerminationSignals"/>).</summary>
    public static async Task<int> RunAsync(CancellationToken ct, Func<CancellationToken, Task<int>> body)
    {
        using var signals = new TerminationSignals(ct);
        try
        {
            return await RunAsync(() => body(signals.Token));
        }
        catch (OperationCanceledException) when (signals.Token.IsCancellationRequested)
        {
            Console.Error.WriteLine("interrupted");
            return 130;
        }
    }

    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (RpcException e)
        {
            Console.Error.WriteLine($"error: server answered {e.Status.StatusCode}: {e.Status.Detail}");
            return 1;
        }
        catch (HttpRequestException e)
        {
            Console.Error.WriteLine($"error: cannot reach the server: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is CliException or VideoIOException or ImageDecodeException or ImagingDependencyException or IOException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return CliException.ExitCode;
        }
    }
}
