using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CausalTap.Tracking.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CausalTap.Server;

/// <summary>
/// The running CausalTap server: Kestrel (HTTP/2, cleartext or TLS) serving causaltap.v1.Tracker and
/// grpc.health.v1.Health and server reflection through grpc-dotnet (Grpc.AspNetCore). <see cref="StartAsync"/> binds and returns once it accepts calls;
/// <see cref="ShutdownAsync"/> drains gracefully (see README "Shutdown").
/// </summary>
public sealed class TrackerServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ModelCache _models;
    private readonly HealthService _health;
    private readonly ILogger _logger;
    private Task? _shutdown;
    private readonly object _shutdownLock = new();

    private TrackerServer(WebApplication app, int port, string address, TrackerServerOptions options, ModelCache models,
        SessionManager sessions, HealthService health, ILogger logger)
    {
        _app = app;
        Port = port;
        Address = address;
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
    public int Port { get; }

    /// <summary>The address clients use, e.g. "http://127.0.0.1:50051" (https with TLS).</summary>
    public string Address { get; }

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

    /// <summary>
    /// As the public overload, with a replaceable engine factory (tests use fake engines) and model warm-up (tests
    /// hold it to watch health say NOT_SERVING meanwhile).
    /// </summary>
    internal static async Task<TrackerServer> StartAsync(TrackerServerOptions options, ILoggerFactory? loggerFactory,
        ITrackingEngineFactory? engines, CancellationToken cancellationToken = default, Func<CancellationToken, Task>? warmUp = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        loggerFactory ??= NullLoggerFactory.Instance;
        ILogger logger = loggerFactory.CreateLogger(ServerLog.Category);
        (_, _, bool loopback) = ResolveHost(options.Host);
        if (!loopback && !options.TlsEnabled)
        {
            // Without TLS a bearer token crosses the network in cleartext: anyone on the path can reuse it.
            string message = options.AuthToken is null
                ? "binding a non-loopback address without TLS or an auth token exposes the tracker to anyone on the network"
                : "binding a non-loopback address without TLS sends the auth token in cleartext";
            if (!options.AllowInsecure)
                throw new ServerConfigurationException($"{message}; configure TLS (tls_cert, tls_key), or pass --allow-insecure where TLS is terminated in front of the server or the network is trusted");
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
        var sessions = new SessionManager(options, engines ?? models, EpisodeSessionRecorder.Create, loggerFactory);
        var health = new HealthService();
        var tracker = new TrackerService(sessions, models, options, logger);

        WebApplication app = BuildHost(options, loggerFactory, certificate, tracker, health);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            await sessions.DisposeAsync().ConfigureAwait(false);
            models.Dispose();
            if (ex is IOException) throw new ServerConfigurationException($"cannot listen on {options.Host}:{options.Port}: {ex.Message}");
            throw;
        }
        int port = BoundPort(app, options.Port);
        string address = $"{(certificate is null ? "http" : "https")}://{ResolveHost(options.Host).ClientHost}:{port}";
        var server = new TrackerServer(app, port, address, options, models, sessions, health, logger);
        try
        {
            // Health says NOT_SERVING until the default model is loaded (a broken model fails the start here).
            if (warmUp is not null)
                await warmUp(cancellationToken).ConfigureAwait(false);
            else if (engines is null && models.DefaultModelName is not null)
                await Task.Run(() => models.Get("", "", out _, out _), cancellationToken).ConfigureAwait(false);
            if (models.DefaultModelName is null)
                ServerLog.Warning(logger, $"no default model in '{options.ModelsDirectory}': OpenSession must name a model");
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        health.SetServing();
        ServerLog.Listening(logger, address, certificate is not null, options.AuthToken is not null);
        return server;
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
            await _app.StopAsync(cts.Token).ConfigureAwait(false);
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
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The IP to bind (null = all interfaces), the host clients should dial, and whether only loopback is bound.</summary>
    internal static (IPAddress? Ip, string ClientHost, bool Loopback) ResolveHost(string host)
    {
        if (string.IsNullOrWhiteSpace(host)) throw new ServerConfigurationException("host must not be empty");
        if (host is "*" or "+" or "0.0.0.0" or "::" or "[::]") return (null, "127.0.0.1", false);
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return (IPAddress.Loopback, "127.0.0.1", true);
        if (!IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? ip))
            throw new ServerConfigurationException($"host '{host}' must be an IP address, 'localhost' or '*'");
        string clientHost = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip.ToString();
        return (ip, clientHost, IPAddress.IsLoopback(ip));
    }

    /// <summary>
    /// Kestrel with HTTP/2 only (h2c needs prior knowledge; with TLS, ALPN picks "h2"), grpc-dotnet serving the
    /// Tracker, grpc.health.v1 and server reflection. The tracker's interceptor (auth, domain errors, error log)
    /// runs on the Tracker and reflection services only: health probes carry no token.
    /// </summary>
    private static WebApplication BuildHost(TrackerServerOptions options, ILoggerFactory loggerFactory, X509Certificate2? certificate,
        TrackerService tracker, HealthService health)
    {
        (IPAddress? ip, _, _) = ResolveHost(options.Host);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(tracker);
        builder.Services.AddSingleton(health);
        builder.Services.AddSingleton(new TrackerCallInterceptor(options.AuthToken, loggerFactory.CreateLogger(ServerLog.Category)));
        builder.Services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = options.MaxMessageBytes;
            grpc.MaxSendMessageSize = options.MaxMessageBytes;
        })
            .AddServiceOptions<TrackerService>(o => o.Interceptors.Add<TrackerCallInterceptor>())
            .AddServiceOptions<Grpc.Reflection.ReflectionServiceImpl>(o => o.Interceptors.Add<TrackerCallInterceptor>());
        builder.Services.AddGrpcReflection();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            Action<ListenOptions> http2 = listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (certificate is not null) listen.UseHttps(certificate);
            };
            if (ip is null) kestrel.ListenAnyIP(options.Port, http2);
            else kestrel.Listen(ip, options.Port, http2);
            // gRPC enforces max_message_bytes per message; Kestrel's whole-body cap must not cut in first.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxConcurrentStreams;
            kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
            if (options.KeepAlivePingInterval > TimeSpan.Zero) kestrel.Limits.Http2.KeepAlivePingDelay = options.KeepAlivePingInterval;
            kestrel.AddServerHeader = false;
        });
        WebApplication app = builder.Build();
        app.MapGrpcService<TrackerService>();
        app.MapGrpcService<HealthService>();
        app.MapGrpcReflectionService();
        return app;
    }

    /// <summary>The port Kestrel bound (the ephemeral one when 0 was asked).</summary>
    private static int BoundPort(WebApplication app, int requested)
    {
        ICollection<string>? addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        return addresses is { Count: > 0 } ? new Uri(addresses.First()).Port : requested;
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
