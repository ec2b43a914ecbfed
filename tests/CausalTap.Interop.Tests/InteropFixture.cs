using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CausalTap.Interop.Tests;

/// <summary>
/// The two servers of the matrix, started once for the "interop" collection: <see cref="TestServiceImpl"/> on
/// grpc-dotnet and Kestrel (h2c on loopback, as the tracker serves), and grpcio's interop_server.py.
/// A server that fails to start is recorded, not thrown, so each affected row fails with the reason
/// and the rows that do not need it still run.
/// </summary>
public sealed class InteropFixture : IAsyncLifetime
{
    private WebApplication? _dotnetServer;
    private string? _dotnetServerError;
    private PythonInteropServer? _pythonServer;
    private string? _pythonServerError;

    public async Task InitializeAsync()
    {
        try
        {
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Services.AddGrpc(o => o.EnableDetailedErrors = true);
            builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
            _dotnetServer = builder.Build();
            _dotnetServer.MapGrpcService<TestServiceImpl>();
            await _dotnetServer.StartAsync();
            string address = _dotnetServer.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            Port = new Uri(address).Port;
        }
        catch (Exception e)
        {
            _dotnetServerError = $"the grpc-dotnet interop server did not start: {e}";
        }

        try
        {
            _pythonServer = await PythonInteropServer.StartAsync(TimeSpan.FromSeconds(60));
        }
        catch (Exception e)
        {
            _pythonServerError = e.Message;
        }
    }

    private int Port { get; set; }

    /// <summary>Our server's address, or a failed assertion saying why it is not running.</summary>
    public string DotnetServerAddress =>
        _dotnetServer is not null ? $"http://127.0.0.1:{Port}" : throw new Xunit.Sdk.XunitException(_dotnetServerError ?? "grpc-dotnet server not started.");

    /// <summary>Our server's host:port for the external clients.</summary>
    public string DotnetServerHostPort => new Uri(DotnetServerAddress).Authority;

    /// <summary>The grpcio server, or a failed assertion saying why it is not running (with the set-up hint).</summary>
    public PythonInteropServer PythonServer
    {
        get
        {
            if (_pythonServer is not null) return _pythonServer;
            InteropPaths.RequirePython(); // the clearer message when a prerequisite is missing
            throw new Xunit.Sdk.XunitException(_pythonServerError ?? "interop_server.py not started.");
        }
    }

    public async Task DisposeAsync()
    {
        if (_pythonServer is not null) await _pythonServer.DisposeAsync();
        if (_dotnetServer is not null)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try { await _dotnetServer.StopAsync(cts.Token); } catch (OperationCanceledException) { }
            await _dotnetServer.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class InteropCollection : ICollectionFixture<InteropFixture>
{
    public const string Name = "interop";
}
