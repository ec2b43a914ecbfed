using CausalTap.Grpc.Server;

namespace CausalTap.Interop.Tests;

/// <summary>
/// The two servers of the matrix, started once for the "interop" collection: CausalTap's
/// <see cref="GrpcServerHost"/> serving <see cref="TestServiceImpl"/>, and grpcio's interop_server.py.
/// A server that fails to start is recorded, not thrown, so each affected row fails with the reason
/// and the rows that do not need it still run.
/// </summary>
public sealed class InteropFixture : IAsyncLifetime
{
    private GrpcServerHost? _causalTapServer;
    private string? _causalTapServerError;
    private PythonInteropServer? _pythonServer;
    private string? _pythonServerError;

    public async Task InitializeAsync()
    {
        try
        {
            _causalTapServer = await GrpcServerHost.StartAsync(TestServiceImpl.CreateRegistry(),
                new GrpcServerOptions { EnableDetailedErrors = true });
        }
        catch (Exception e)
        {
            _causalTapServerError = $"CausalTap GrpcServerHost did not start: {e}";
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

    /// <summary>Our server, or a failed assertion saying why it is not running.</summary>
    public GrpcServerHost CausalTapServer =>
        _causalTapServer ?? throw new Xunit.Sdk.XunitException(_causalTapServerError ?? "CausalTap server not started.");

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
        if (_causalTapServer is not null) await _causalTapServer.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class InteropCollection : ICollectionFixture<InteropFixture>
{
    public const string Name = "interop";
}
