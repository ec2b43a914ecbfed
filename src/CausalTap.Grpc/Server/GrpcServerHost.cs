using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CausalTap.Grpc.Server;

/// <summary>
/// A Kestrel host serving one <see cref="GrpcServiceRegistry"/> over HTTP/2: cleartext (h2c, prior knowledge), or
/// TLS when a certificate is given. Used by tests, the benchmarks and the tracking server.
/// </summary>
public sealed class GrpcServerHost : IAsyncDisposable
{
    /// <summary>The running web application.</summary>
    private readonly WebApplication _app;
    /// <summary>Set once stopped, so dispose after stop does not stop twice.</summary>
    private int _stopped;

    private GrpcServerHost(WebApplication app, int port, string address)
    {
        _app = app;
        Port = port;
        Address = address;
    }

    /// <summary>The bound port (the ephemeral one when port 0 was asked).</summary>
    public int Port { get; }

    /// <summary>The base address clients use, e.g. "http://127.0.0.1:{Port}".</summary>
    public string Address { get; }

    /// <summary>The host's services (logging, Kestrel options), for callers that need more than the address.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Starts Kestrel on <paramref name="host"/>:<paramref name="port"/> with HTTP/2 only. <paramref name="host"/> is
    /// an IP address, "localhost" (loopback) or "*"/"0.0.0.0"/"+" (all interfaces). Logging is off unless a
    /// <paramref name="loggerFactory"/> is given. With <paramref name="certificate"/> the endpoint speaks TLS (ALPN "h2")
    /// and <see cref="Address"/> is https.
    /// </summary>
    public static async Task<GrpcServerHost> StartAsync(GrpcServiceRegistry registry, GrpcServerOptions? options = null,
        string host = "127.0.0.1", int port = 0, ILoggerFactory? loggerFactory = null,
        Action<KestrelServerOptions>? configureKestrel = null, X509Certificate2? certificate = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        (IPAddress? ip, string clientHost) = ResolveHost(host);

        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(loggerFactory ?? NullLoggerFactory.Instance);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // h2c needs prior knowledge: with Http1AndHttp2 and no TLS, Kestrel would speak only HTTP/1.1.
            // With TLS, ALPN negotiates "h2".
            Action<ListenOptions> http2 = listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (certificate is not null) listen.UseHttps(certificate);
            };
            if (ip is null) kestrel.ListenAnyIP(port, http2);
            else kestrel.Listen(ip, port, http2);
            configureKestrel?.Invoke(kestrel);
        });

        WebApplication app = builder.Build();
        app.UseRouting();
        app.MapGrpcServices(registry, options);
        try
        {
            await app.StartAsync().ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        int boundPort = port;
        ICollection<string>? addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        if (addresses is { Count: > 0 }) boundPort = new Uri(addresses.First()).Port;
        return new GrpcServerHost(app, boundPort, $"{(certificate is null ? "http" : "https")}://{clientHost}:{boundPort}");
    }

    /// <summary>The IP to bind (null for all interfaces) and the host name clients should use.</summary>
    /// <exception cref="ArgumentException">not an IP address, "localhost" or an all-interfaces form.</exception>
    public static (IPAddress? Ip, string ClientHost) ResolveHost(string host)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        if (host is "*" or "+" or "0.0.0.0" or "::" or "[::]") return (null, "127.0.0.1");
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return (IPAddress.Loopback, "127.0.0.1");
        if (!IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? ip))
            throw new ArgumentException($"Host '{host}' must be an IP address, 'localhost' or '*'.", nameof(host));
        return (ip, ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip.ToString());
    }

    /// <summary>Stops accepting calls and waits (until <paramref name="cancellationToken"/>) for running ones.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        // Bounded: a handler that ignores cancellation must not hang test teardown forever.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { await StopAsync(cts.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
