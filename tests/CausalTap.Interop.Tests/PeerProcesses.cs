using System.Diagnostics;
using System.Text;

namespace CausalTap.Interop.Tests;

/// <summary>Where the interop peers live and what they need.</summary>
public static class InteropPaths
{
    public const string SetupHint = "Run scripts/setup.sh (apt: python3-grpcio python3-protobuf protobuf-compiler " +
        "protobuf-compiler-grpc grpc-proto; npm ci in tests/interop/node).";

    public const string Python = "/usr/bin/python3";
    public const string GrpcProtoRoot = "/usr/share/grpc-proto";

    public static readonly string RepoRoot = CausalTap.TestShared.TestRepo.Root;
    public static readonly string PythonDir = Path.Combine(RepoRoot, "tests", "interop", "python");
    public static readonly string NodeDir = Path.Combine(RepoRoot, "tests", "interop", "node");

    private static readonly Lazy<string?> PythonProblem = new(() =>
    {
        string[] needed =
        [
            Python, "/usr/bin/protoc", "/usr/bin/grpc_python_plugin",
            $"{GrpcProtoRoot}/grpc/testing/test.proto", $"{GrpcProtoRoot}/grpc/testing/messages.proto",
            $"{GrpcProtoRoot}/grpc/testing/empty.proto",
        ];
        string[] missing = needed.Where(p => !File.Exists(p)).ToArray();
        if (missing.Length > 0) return $"missing {string.Join(", ", missing)}";
        ProcessResult r = ProcessRunner.RunAsync(Python, ["-c", "import grpc, google.protobuf"], PythonDirSafe(), TimeSpan.FromSeconds(30))
            .GetAwaiter().GetResult();
        return r.ExitCode == 0 ? null : $"{Python} cannot import grpc/google.protobuf: {r.Tail()}";
    });

    private static readonly Lazy<string?> NodeProblem = new(() =>
    {
        string? node = FindOnPath("node");
        if (node is null) return "node is not on PATH";
        foreach (string pkg in new[] { "@grpc/grpc-js", "@grpc/proto-loader" })
        {
            if (!File.Exists(Path.Combine(NodeDir, "node_modules", pkg, "package.json")))
                return $"{pkg} is not installed in {NodeDir}/node_modules";
        }
        return File.Exists($"{GrpcProtoRoot}/grpc/testing/test.proto") ? null : $"missing {GrpcProtoRoot}/grpc/testing/test.proto";
    });

    private static string PythonDirSafe() => Directory.Exists(PythonDir) ? PythonDir : RepoRoot;

    /// <summary>Fails the calling test (with the set-up hint) when the Python peer cannot run.</summary>
    public static void RequirePython()
    {
        if (PythonProblem.Value is { } problem) Assert.Fail($"Python gRPC peer unavailable: {problem}. {SetupHint}");
    }

    /// <summary>Fails the calling test (with the set-up hint) when the Node peer cannot run.</summary>
    public static void RequireNode()
    {
        if (NodeProblem.Value is { } problem) Assert.Fail($"Node gRPC peer unavailable: {problem}. {SetupHint}");
    }

    public static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}

public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    /// <summary>The last lines of stderr (or stdout), for failure messages.</summary>
    public string Tail(int maxChars = 1500)
    {
        string text = (Stderr.Trim().Length > 0 ? Stderr : Stdout).Trim();
        return text.Length <= maxChars ? text : "..." + text[^maxChars..];
    }
}

public static class ProcessRunner
{
    /// <summary>Runs a process to completion (killed, with its children, after <paramref name="timeout"/>).</summary>
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> args, string workingDirectory, TimeSpan timeout)
    {
        using var process = new Process { StartInfo = CreateStartInfo(fileName, args, workingDirectory) };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool timedOut = false;
        using (var cts = new CancellationTokenSource(timeout))
        {
            try
            {
                await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            }
        }
        await process.WaitForExitAsync().ConfigureAwait(false); // drains the output readers
        lock (stdout) lock (stderr) return new ProcessResult(timedOut ? -1 : process.ExitCode, stdout.ToString(), stderr.ToString(), timedOut);
    }

    public static ProcessStartInfo CreateStartInfo(string fileName, IEnumerable<string> args, string workingDirectory)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        psi.Environment["PYTHONUNBUFFERED"] = "1";
        return psi;
    }
}

/// <summary>An external interop client (grpcio or grpc-js) run against a server address.</summary>
public sealed class PeerClient
{
    public static readonly PeerClient Python = new("python-client", InteropPaths.Python,
        () => Path.Combine(InteropPaths.PythonDir, "interop_client.py"), InteropPaths.RequirePython, () => InteropPaths.PythonDir);

    public static readonly PeerClient Node = new("node-client", "node",
        () => Path.Combine(InteropPaths.NodeDir, "interop_client.js"), InteropPaths.RequireNode, () => InteropPaths.NodeDir);

    private readonly string _executable;
    private readonly Func<string> _script;
    private readonly Action _require;
    private readonly Func<string> _workingDirectory;

    private PeerClient(string name, string executable, Func<string> script, Action require, Func<string> workingDirectory)
    {
        Name = name;
        _executable = executable;
        _script = script;
        _require = require;
        _workingDirectory = workingDirectory;
    }

    public string Name { get; }

    /// <summary>
    /// Runs the given cases in one peer process (one channel) and returns each case's reported outcome:
    /// null for PASS, the peer's reason for FAIL, or a description of what went wrong when it printed no line.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string?>> RunCasesAsync(string hostPort, IReadOnlyList<string> cases, TimeSpan timeout)
    {
        _require();
        var args = new List<string> { _script(), "--server", hostPort };
        args.AddRange(cases);
        ProcessResult result = await ProcessRunner.RunAsync(_executable, args, _workingDirectory(), timeout).ConfigureAwait(false);

        var outcome = new Dictionary<string, string?>();
        foreach (string raw in result.Stdout.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.StartsWith("PASS ", StringComparison.Ordinal))
            {
                outcome[line[5..].Trim()] = null;
            }
            else if (line.StartsWith("FAIL ", StringComparison.Ordinal))
            {
                int colon = line.IndexOf(": ", 5, StringComparison.Ordinal);
                string name = colon < 0 ? line[5..].Trim() : line[5..colon];
                outcome[name] = colon < 0 ? "(no reason given)" : line[(colon + 2)..];
            }
        }
        foreach (string c in cases)
        {
            if (outcome.ContainsKey(c)) continue;
            string why = result.TimedOut ? $"killed after {timeout.TotalSeconds:0} s" : $"exit code {result.ExitCode}";
            outcome[c] = $"{Name} printed no result line for '{c}' ({why}); output: {result.Tail()}";
        }
        return outcome;
    }
}

/// <summary>tests/interop/python/interop_server.py (grpcio TestService) running on an ephemeral port.</summary>
public sealed class PythonInteropServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr;

    private PythonInteropServer(Process process, StringBuilder stderr, int port)
    {
        _process = process;
        _stderr = stderr;
        Port = port;
    }

    public int Port { get; }

    public string Address => $"http://127.0.0.1:{Port}";

    public string StderrText
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    public static async Task<PythonInteropServer> StartAsync(TimeSpan startTimeout)
    {
        InteropPaths.RequirePython();
        string script = Path.Combine(InteropPaths.PythonDir, "interop_server.py");
        var process = new Process { StartInfo = ProcessRunner.CreateStartInfo(InteropPaths.Python, [script, "--port", "0"], InteropPaths.PythonDir) };
        var stderr = new StringBuilder();
        var firstLine = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) => firstLine.TrySetResult(e.Data);
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            string? line = await firstLine.Task.WaitAsync(startTimeout).ConfigureAwait(false);
            if (line is not null && int.TryParse(line.Trim(), out int port) && port > 0)
                return new PythonInteropServer(process, stderr, port);
            throw new InvalidOperationException($"interop_server.py printed '{line}' instead of its port.");
        }
        catch (Exception e)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await process.WaitForExitAsync().ConfigureAwait(false);
            string err;
            lock (stderr) err = stderr.ToString().Trim();
            process.Dispose();
            throw new InvalidOperationException($"interop_server.py did not start: {e.Message} stderr: {err}", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // best effort: the process is ours and already told to die
        }
        _process.Dispose();
    }
}
