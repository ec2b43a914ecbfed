using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CausalTap.Grpc.Server;
using CausalTap.Tracking.Inference;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CausalTap.Server;

/// <summary>
/// The running CausalTap server: Kestrel (HTTP/2, cleartext or TLS) serving causaltap.v1.Tracker and
/// grpc.health.v1.Health through CausalTap.Grpc. <see cref="StartAsync"/> binds and returns once it accepts calls;
/// <see cref="ShutdownAsync"/> drains gracefully (see README "Shutdown").
/// </summary>
public sealed class TrackerServer : IAsyncDisposable
{
    private readonly GrpcServerHost _host;
    private readonly ModelCache _models;
    private readonly HealthService _health;
    private readonly ILogger _logger;
    private Task? _shutdown;
    private readonly object _shutdownLock = new();

    private TrackerServer(GrpcServerHost host, TrackerServerOptions options, ModelCache models, SessionManager sessions, HealthService health,
        ILogger logger)
    {
        _host = host;
        Options = options;
        _models = models;
        Sessions = sessions;
        _health = health;
        _logger = logger;
    }

    /// <summary>The CausalTap version this server reports.</summary>
    public static string Version => TrackerService.Version;

    /// <summary>The options the server runs with (validated).</summary>
    public TrackerServerOptions Options { get; }

    /// <summary>The bound port (the ephemeral one when port 0 was asked).</summary>
    public int Port => _host.Port;

    /// <summary>The address clients use, e.g. "http://127.0.0.1:50051" (https with TLS).</summary>
    public string Address => _host.Address;

    /// <summary>The default model's name, or null when the models folder has none.</summary>
    public string? DefaultModel => _models.DefaultModelName;

    /// <summary>The server's sessions (tests reach in for the idle sweep).</summary>
    internal SessionManager Sessions { get; }

    /// <summary>
    /// Validates the options, loads the default model (so a broken model fails here, not on the first session),
    /// binds and starts serving. Throws <see cref="ServerConfigurationException"/> for bad settings (including a
    /// non-loopback bind without TLS or auth unless <see cref="TrackerServerOptions.AllowInsecure"/>).
    /// </summary>
    public static Task<TrackerServer> StartAsync(TrackerServerOptions options, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default) =>
        StartAsync(options, loggerFactory, engines: null, cancellationToken);

    /// <summary>As the public overload, with a replaceable engine factory (tests use fake engines).</summary>
    internal static async Task<TrackerServer> StartAsync(TrackerServerOptions options, ILoggerFactory? loggerFactory,
        ITrackingEngineFactory? engines, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        loggerFactory ??= NullLoggerFactory.Instance;
        ILogger logger = loggerFactory.CreateLogger(ServerLog.Category);
        (_, _, bool loopback) = ResolveHost(options.Host);
        if (!loopback && !options.TlsEnabled && options.AuthToken is null)
        {
            const string message = "binding a non-loopback address without TLS or an auth token exposes the tracker to anyone on the network";
            if (!options.AllowInsecure) throw new ServerConfigurationException($"{message}; set an auth token and/or TLS, or pass --allow-insecure");
            ServerLog.Warning(logger, $"insecure: {message} (allowed by allow_insecure)");
        }
        X509Certificate2? certificate = options.TlsEnabled ? LoadCertificate(options) : null;

        ServerLog.OnnxRuntime(logger, ExecutionProviders.OrtVersion, ExecutionProviders.Describe(ExecutionProviders.Survey()));
        try
        {
            // A named default provider that does not load stops the start here, with ORT's reason.
            ServerLog.DefaultProvider(logger, ProviderPolicy.Choose(options.Provider).ToString());
        }
        catch (Exception ex) when (ex is ProviderUnavailableException or ArgumentException)
        {
            throw new ServerConfigurationException($"provider: {ex.Message}");
        }
        var models = new ModelCache(options, (model, provider) => ServerLog.ModelLoaded(logger, model, provider));
        if (engines is null && models.DefaultModelName is not null)
        {
            await Task.Run(() => models.Get("", "", out _, out _), cancellationToken).ConfigureAwait(false);
        }
        else if (models.DefaultModelName is null)
        {
            ServerLog.Warning(logger, $"no default model in '{options.ModelsDirectory}': OpenSession must name a model");
        }
        var sessions = new SessionManager(options, engines ?? models, EpisodeSessionRecorder.Create, loggerFactory);
        var health = new HealthService();
        var registry = new GrpcServiceRegistry();
        new TrackerService(sessions, models, options, logger).Register(registry);
        health.Register(registry);

        GrpcServerHost host;
        try
        {
            host = await GrpcServerHost.StartAsync(registry,
                new GrpcServerOptions { MaxReceiveMessageSize = options.MaxMessageBytes, MaxSendMessageSize = options.MaxMessageBytes },
                options.Host, options.Port, loggerFactory,
                // gRPC enforces max_message_bytes per message; Kestrel's whole-body cap must not cut in first.
                kestrel => kestrel.Limits.MaxRequestBodySize = Math.Max(30_000_000L, options.MaxMessageBytes + 5L),
                certificate).ConfigureAwait(false);
        }
        catch
        {
            await sessions.DisposeAsync().ConfigureAwait(false);
            models.Dispose();
            throw;
        }
        string address = host.Address;
        ServerLog.Listening(logger, address, certificate is not null, options.AuthToken is not null);
        return new TrackerServer(host, options, models, sessions, health, logger);
    }

    /// <summary>
    /// Graceful shutdown (once; later calls return the same task): health turns NOT_SERVING, new sessions are
    /// refused, every session drains its queued frames and ends its subscriptions with OK, recordings are
    /// completed, then Kestrel stops. Bounded by <see cref="TrackerServerOptions.ShutdownTimeout"/> per stage.
    /// </summary>
    public Task ShutdownAsync()
    {
        lock (_shutdownLock) return _shutdown ??= ShutdownCoreAsync();
    }

    private async Task ShutdownCoreAsync()
    {
        _health.SetNotServing();
        ServerLog.ShuttingDown(_logger, Sessions.Count);
        await Sessions.ShutdownAsync(Options.ShutdownTimeout).ConfigureAwait(false);
        _health.Stop();
        using var cts = new CancellationTokenSource(Options.ShutdownTimeout);
        try
        {
            await _host.StopAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Calls that ignored the stop were cut off; nothing else to do.
        }
        _models.Dispose();
        ServerLog.Stopped(_logger);
    }

    public async ValueTask DisposeAsync()
    {
        await ShutdownAsync().ConfigureAwait(false);
        await _host.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The IP to bind (null = all interfaces), the host clients should dial, and whether only loopback is bound.</summary>
    internal static (IPAddress? Ip, string ClientHost, bool Loopback) ResolveHost(string host)
    {
        if (string.IsNullOrWhiteSpace(host)) throw new ServerConfigurationException("host must not be empty");
        try
        {
            (IPAddress? ip, string clientHost) = GrpcServerHost.ResolveHost(host);
            return (ip, clientHost, ip is not null && IPAddress.IsLoopback(ip));
        }
        catch (ArgumentException)
        {
            throw new ServerConfigurationException($"host '{host}' must be an IP address, 'localhost' or '*'");
        }
    }

    /// <summary>Loads the PEM certificate (+ key) for Kestrel.</summary>
    private static X509Certificate2 LoadCertificate(TrackerServerOptions options)
    {
        try
        {
            using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(options.TlsCertificatePath!, options.TlsKeyPath);
            // Through PKCS#12 so SslStream gets a key it can use whatever the key file's format.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or ArgumentException)
        {
            throw new ServerConfigurationException(
                $"TLS certificate '{options.TlsCertificatePath}' / key '{options.TlsKeyPath ?? "(in the certificate file)"}' cannot be loaded: {ex.Message}");
        }
    }
}
