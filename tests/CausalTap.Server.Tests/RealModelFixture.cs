using CausalTap.Protocol.V1;

namespace CausalTap.Server.Tests;

/// <summary>One server with the bundled default model (models/causaltap-default) for every real-model test.</summary>
public sealed class RealModelFixture : IAsyncLifetime
{
    public const int MaxMessageBytes = 1024 * 1024;
    public const int MaxPoints = 8;

    internal TrackerServer Server { get; private set; } = null!;
    internal Tracker.TrackerClient Client { get; private set; } = null!;
    public string EpisodesDirectory { get; } = TestSupport.TempDirectory();

    public async Task InitializeAsync()
    {
        TrackerServerOptions options = Servers.Options(EpisodesDirectory);
        options.MaxMessageBytes = MaxMessageBytes;
        options.MaxPointsPerSession = MaxPoints;
        options.MaxSessions = 32;
        Server = await TrackerServer.StartAsync(options);
        Client = TestSupport.Client(Server.Address);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
    }

    /// <summary>Opens a session on the default model (BLOCK by default so no frame is dropped in assertions).</summary>
    internal async Task<SessionInfo> Open(IngestPolicy policy = IngestPolicy.Block, uint width = 0, uint height = 0, bool record = false, string episode = "") =>
        await Client.OpenSessionAsync(new OpenSessionRequest
        {
            CameraId = "test_cam",
            IngestPolicy = policy,
            FrameWidth = width,
            FrameHeight = height,
            Record = record,
            EpisodeName = episode,
        }, TestSupport.Options());
}

[CollectionDefinition(Name)]
public sealed class RealModelCollection : ICollectionFixture<RealModelFixture>
{
    public const string Name = "RealModel";
}
