using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using CausalTap.Cli;
using Grpc.Core;
using Grpc.Net.Client;
using CausalTap.Protocol.V1;
using Grpc.Health.V1;

namespace CausalTap.EndToEnd.Tests.TestSupport;

/// <summary>
/// The real server: <c>dotnet causaltap.dll serve</c> as a child process on a free loopback port, with its own
/// episodes folder and the repository's models (its command-line flags), ready once grpc.health.v1 Check
/// answers SERVING.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private readonly ServerConnection _connection;

    private ServerProcess(ChildProcess process, int port, string episodesDirectory, string? tlsCaFile, string? token)
    {
        _process = process;
        Port = port;
        EpisodesDirectory = episodesDirectory;
        Address = $"{(tlsCaFile is null ? "http" : "https")}://{HostPort}";
        // The CLI's own connection code (address, bearer token, private CA): the tests use what users use.
        _connection = ServerConnection.Open(Address, token, tlsCaFile);
    }

    public int Port { get; }

    public string HostPort => $"127.0.0.1:{Port}";

    public string Address { get; }

    public string EpisodesDirectory { get; }

    public GrpcChannel Channel => _connection.Channel;

    public Tracker.TrackerClient Client => _connection.Client;

    public int ProcessId => _process.Id;

    /// <summary>Call options carrying the bearer token (when the server was started with one).</summary>
    public CallOptions CallOptionsWithToken() => _connection.CallOptions(CancellationToken.None);

    public string Output => $"server stdout: {_process.Stdout}\nserver stderr: {_process.Stderr}";

    public static Task<ServerProcess> StartAsync(string episodesDirectory, int port = 0) => StartAsync(episodesDirectory, port, null, null);

    /// <summary>Starts the server; with <paramref name="tls"/> (certificate, key, CA files) it serves https, with a token it requires auth.</summary>
    public static async Task<ServerProcess> StartAsync(string episodesDirectory, int port, (string Cert, string Key, string Ca)? tls, string? token)
    {
        var extraArgs = new List<string>();
        if (tls is { } t) extraArgs.AddRange(["--tls-cert", t.Cert, "--tls-key", t.Key]);
        if (token is not null) extraArgs.AddRange(["--auth-token", token]);
        E2EEnvironment.RequireCli();
        Directory.CreateDirectory(episodesDirectory);
        if (port == 0) port = FreePort();
        string portText = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        ChildProcess child = ChildProcess.Start("dotnet",
            [E2EEnvironment.CliDll, "serve", "--host", "127.0.0.1", "--port", portText, "--episodes-dir", episodesDirectory,
             "--models-dir", Path.Combine(E2EEnvironment.RepoRoot, "models"), .. extraArgs],
            E2EEnvironment.RepoRoot);
        var server = new ServerProcess(child, port, episodesDirectory, tls?.Ca, token);
        try
        {
            await server.WaitUntilServingAsync(TimeSpan.FromSeconds(90));
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private async Task WaitUntilServingAsync(TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        string last = "no answer";
        while (watch.Elapsed < timeout)
        {
            if (_process.HasExited) Assert.Fail($"causaltap serve exited during start-up.\n{Output}");
            try
            {
                using var call = new Health.HealthClient(Channel).CheckAsync(new HealthCheckRequest(), new CallOptions(deadline: DateTime.UtcNow.AddSeconds(5)));
                HealthCheckResponse reply = await call.ResponseAsync;
                if (reply.Status == HealthCheckResponse.Types.ServingStatus.Serving) return;
                last = reply.Status.ToString();
            }
            catch (Exception e) when (e is RpcException or HttpRequestException or OperationCanceledException)
            {
                last = e.Message;
            }
            await Task.Delay(200);
        }
        Assert.Fail($"causaltap serve was not SERVING within {timeout.TotalSeconds:0} s (last: {last}).\n{Output}");
    }

    /// <summary>SIGKILL: the server gets no chance to close files or sessions.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        _connection.Dispose();
        await _process.DisposeAsync();
    }
}

/// <summary>One server for a whole test class (start-up loads the model: seconds on this machine).</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private ServerProcess? _server;

    public string EpisodesDirectory { get; } = Path.Combine(Path.GetTempPath(), "causaltap-e2e-" + Guid.NewGuid().ToString("N")[..8]);

    public ServerProcess Server => _server ?? throw new InvalidOperationException("server not started");

    public async Task InitializeAsync() => _server = await ServerProcess.StartAsync(EpisodesDirectory);

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        try
        {
            Directory.Delete(EpisodesDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
