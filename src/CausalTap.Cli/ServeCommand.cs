using System.CommandLine;
using System.Runtime.InteropServices;
using CausalTap.Tracking.Inference;
using Microsoft.ML.OnnxRuntime;
using CausalTap.Server;
using Microsoft.Extensions.Logging;

namespace CausalTap.Cli;

/// <summary>
/// <c>causaltap serve</c>: runs the tracking server. Settings come from a JSON file (<c>--config</c>, else
/// ./causaltap.json when present), then CAUSALTAP_* environment variables, then these flags (each flag is the
/// configuration key with dashes, see src/CausalTap.Server/README.md). Ctrl-C / SIGTERM drain and exit 0.
/// </summary>
internal static class ServeCommand
{
    /// <summary>Flag name -> configuration key and help. Flags only override when given.</summary>
    private static readonly (string Flag, string Key, string Help)[] StringFlags =
    [
        ("--host", "host", "Address to bind: an IP, localhost, or * for all interfaces (default 127.0.0.1)."),
        ("--port", "port", "TCP port (default 50051; 0 = any free port)."),
        ("--models-dir", "models_dir", "Folder of model directories (default: models/ of the install, or $CAUSALTAP_MODELS)."),
        ("--model", "default_model", "Default model name for sessions that name none."),
        ("--provider", "provider", "Default execution provider: auto (TensorRT, else CUDA, else CPU; the default), cpu, cuda or tensorrt. A named provider that cannot load stops the server."),
        ("--threads", "threads", "Intra-op threads per ONNX Runtime session (default 1: streams run in parallel; 0 = ORT default, one per core)."),
        ("--episodes-dir", "episodes_dir", "Where recordings go and Replay/ListEpisodes look (default ./episodes)."),
        ("--max-sessions", "max_sessions", "Open sessions at most (default 16)."),
        ("--max-points", "max_points_per_session", "Query points per session at most (default 256)."),
        ("--max-message-bytes", "max_message_bytes", "Largest gRPC message either way (default 16777216)."),
        ("--max-concurrent-streams", "max_concurrent_streams", "HTTP/2 streams (calls) per connection at most (default 100)."),
        ("--max-connections", "max_connections", "Client connections at most (default unlimited)."),
        ("--keepalive-s", "keepalive_s", "HTTP/2 PING after this many idle seconds; 0 = off (default 30)."),
        ("--max-frame-width", "max_frame_width", "Largest frame width accepted (default 4096)."),
        ("--max-frame-height", "max_frame_height", "Largest frame height accepted (default 4096)."),
        ("--ingest-queue", "ingest_queue_frames", "Default ingest queue depth in frames (default 2)."),
        ("--ingest-policy", "ingest_policy", "Default ingest policy when the queue is full: drop_oldest (default) or block."),
        ("--subscriber-queue", "subscriber_queue_updates", "Default per-subscriber latest-wins queue depth (default 2)."),
        ("--idle-timeout", "idle_timeout_s", "Close sessions without frames or calls for this many seconds (default 60; 0 = never)."),
        ("--max-capture-ahead", "max_capture_ahead_s", "Reject a frame stamped more than this many seconds ahead of the server clock (default 10)."),
        ("--clock-step", "clock_step_s", "A capture time this many seconds behind the previous frame re-bases the session instead of being refused (default 1)."),
        ("--shutdown-timeout", "shutdown_timeout_s", "Seconds a graceful shutdown waits for queued frames and calls (default 10)."),
        ("--tls-cert", "tls_cert", "PEM certificate (chain) for TLS."),
        ("--tls-key", "tls_key", "PEM private key for --tls-cert."),
        ("--auth-token", "auth_token", "Bearer token required on every call except health (prefer --auth-token-file or CAUSALTAP_AUTH_TOKEN)."),
        ("--auth-token-file", "auth_token_file", "File holding the bearer token."),
    ];

    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "JSON configuration file (flat object of configuration keys)." };
        var allowInsecure = new Option<bool>("--allow-insecure") { Description = "Allow binding a non-loopback address without TLS or an auth token." };
        var flags = StringFlags.Select(f => (Option: new Option<string?>(f.Flag) { Description = f.Help }, f.Key)).ToList();
        var command = new Command("serve", "Run the tracking server (gRPC causaltap.v1.Tracker + grpc.health.v1) until Ctrl-C / SIGTERM.")
        {
            config, allowInsecure,
        };
        foreach ((Option<string?> option, _) in flags) command.Add(option);
        command.SetAction(parse =>
        {
            var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach ((Option<string?> option, string key) in flags)
            {
                if (parse.GetResult(option) is not null) overrides[key] = parse.GetValue(option);
            }
            if (parse.GetValue(allowInsecure)) overrides["allow_insecure"] = "true";
            return Run(parse.GetValue(config), overrides);
        });
        return command;
    }

    private static int Run(string? configPath, Dictionary<string, string?> overrides)
    {
        TrackerServerOptions options;
        try
        {
            var defaults = new TrackerServerOptions { ModelsDirectory = Paths.Models, EpisodesDirectory = Path.GetFullPath("episodes") };
            options = ServerConfiguration.Bind(ServerConfiguration.Build(configPath, overrides), defaults);
        }
        catch (ServerConfigurationException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return CliException.ExitCode;
        }

        using ILoggerFactory loggers = LoggerFactory.Create(b =>
        {
            b.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
            b.SetMinimumLevel(LogLevel.Information);
            // The transport logs every failed call at Information; the server's own line says the same with the peer.
            b.AddFilter("CausalTap.Grpc.Server", LogLevel.Warning);
            b.AddFilter("Microsoft", LogLevel.Warning);
        });

        using var stop = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // we drain and exit ourselves
            stop.Cancel();
        }
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        TrackerServer server;
        try
        {
            server = TrackerServer.StartAsync(options, loggers, stop.Token).GetAwaiter().GetResult();
        }
        catch (ServerConfigurationException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return CliException.ExitCode;
        }
        catch (Grpc.Core.RpcException ex)
        {
            Console.Error.WriteLine($"error: default model: {ex.Status.Detail}");
            return CliException.ExitCode;
        }
        catch (Exception ex) when (ex is IOException or OnnxRuntimeException or OperationCanceledException)
        {
            Console.Error.WriteLine($"error: the server could not start: {ex.Message}");
            return 1;
        }

        Console.WriteLine($"causaltap {TrackerServer.Version} serving on {server.Address} ({(options.TlsEnabled ? "TLS" : "cleartext h2c")}, " +
                          $"{(options.AuthToken is null ? "no auth" : "bearer auth")})");
        Console.WriteLine($"  default model: {server.DefaultModel ?? "(none: sessions must name one)"}; models in {Path.GetFullPath(options.ModelsDirectory)}");
        Console.WriteLine($"  onnxruntime {ExecutionProviders.OrtVersion}; providers: default {options.Provider}; loads here: " +
                          string.Join(", ", ExecutionProviders.Survey().Where(p => p.Loads).Select(p => p.Name)));
        Console.WriteLine($"  episodes: {Path.GetFullPath(options.EpisodesDirectory)}");
        Console.WriteLine($"  try: causaltap stream --server {server.Address} VIDEO   then   causaltap subscribe --server {server.Address} --session SESSION_ID");
        Console.WriteLine("  Ctrl-C drains the sessions and stops.");

        try
        {
            stop.Token.WaitHandle.WaitOne();
        }
        finally
        {
            Console.WriteLine("stopping: draining sessions...");
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return 0;
    }
}
