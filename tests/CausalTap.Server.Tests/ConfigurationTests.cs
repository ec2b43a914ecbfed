using System.Buffers.Binary;
using CausalTap.Protocol.V1;
using Google.Protobuf;
using ImagingFormat = CausalTap.Imaging.PixelFormat;

namespace CausalTap.Server.Tests;

/// <summary>Configuration layering and the ingest-time frame checks (no server needed).</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public void JsonThenEnvironmentThenFlags_LaterLayersWin()
    {
        string dir = TestSupport.TempDirectory();
        string json = Path.Combine(dir, "causaltap.json");
        File.WriteAllText(json, """{ "port": 6000, "max_sessions": 3, "ingest_policy": "block", "idle_timeout_s": 12.5, "host": "127.0.0.1" }""");
        var env = new Dictionary<string, string> { ["CAUSALTAP_PORT"] = "7000", ["CAUSALTAP_AUTH_TOKEN"] = "tok", ["OTHER_PORT"] = "1" };
        var flags = new Dictionary<string, string?> { ["port"] = "8000", ["provider"] = null };

        TrackerServerOptions o = ServerConfiguration.Bind(ServerConfiguration.Build(json, flags, env));
        Assert.Equal(8000, o.Port);                  // flag over env over JSON
        Assert.Equal(3, o.MaxSessions);              // JSON only
        Assert.Equal("tok", o.AuthToken);            // env only
        Assert.Equal(IngestPolicy.Block, o.IngestPolicy);
        Assert.Equal(TimeSpan.FromSeconds(12.5), o.SessionIdleTimeout);
        Assert.Equal("auto", o.Provider);            // default kept when a flag is absent

        o = ServerConfiguration.Bind(ServerConfiguration.Build(json, null, env));
        Assert.Equal(7000, o.Port);

        // ./causaltap.json is picked up from the working directory when no --config is given.
        o = ServerConfiguration.Bind(ServerConfiguration.Build(null, null, new Dictionary<string, string>(), dir));
        Assert.Equal(6000, o.Port);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("tensorrt")]
    public async Task NamedProviderThatCannotLoad_StopsTheStartWithTheReason(string provider)
    {
        // Test folders hold no GPU provider libraries, so these never load here: the start must fail, not fall back.
        TrackerServerOptions options = Servers.Options();
        options.Provider = provider;
        var e = await Assert.ThrowsAsync<ServerConfigurationException>(() => TrackerServer.StartAsync(options));
        Assert.Contains($"Execution provider '{provider}' cannot be used", e.Message);
        Assert.Contains("Failed to load shared library", e.Message);
    }

    [Fact]
    public async Task An_unknown_provider_name_stops_the_start()
    {
        TrackerServerOptions options = Servers.Options();
        options.Provider = "cdua";
        var e = await Assert.ThrowsAsync<ServerConfigurationException>(() => TrackerServer.StartAsync(options));
        Assert.Contains("Unknown execution provider 'cdua'", e.Message);
        options.MaxCaptureAhead = TimeSpan.Zero;
        options.Provider = "auto";
        e = Assert.Throws<ServerConfigurationException>(options.Validate);
        Assert.Contains("max_capture_ahead_s", e.Message);
    }

    [Fact]
    public void BadValues_NameTheKey()
    {
        string dir = TestSupport.TempDirectory();
        string json = Path.Combine(dir, "c.json");
        File.WriteAllText(json, """{ "prot": 1 }""");
        var e = Assert.Throws<ServerConfigurationException>(() => ServerConfiguration.Build(json, null, new Dictionary<string, string>()));
        Assert.Contains("prot", e.Message);
        e = Assert.Throws<ServerConfigurationException>(() => ServerConfiguration.Bind(ServerConfiguration.Build(null,
            new Dictionary<string, string?> { ["max_sessions"] = "many" }, new Dictionary<string, string>(), dir)));
        Assert.Contains("max_sessions", e.Message);
        e = Assert.Throws<ServerConfigurationException>(() => ServerConfiguration.Bind(ServerConfiguration.Build(null,
            new Dictionary<string, string?> { ["ingest_policy"] = "sometimes" }, new Dictionary<string, string>(), dir)));
        Assert.Contains("ingest_policy", e.Message);
        e = Assert.Throws<ServerConfigurationException>(() => ServerConfiguration.Build(Path.Combine(dir, "missing.json")));
        Assert.Contains("does not exist", e.Message);

        string tokenFile = Path.Combine(dir, "token");
        File.WriteAllText(tokenFile, "from-file\n");
        TrackerServerOptions o = ServerConfiguration.Bind(ServerConfiguration.Build(null,
            new Dictionary<string, string?> { ["auth_token_file"] = tokenFile }, new Dictionary<string, string>(), dir));
        Assert.Equal("from-file", o.AuthToken);
    }

    [Fact]
    public void Inspector_ReadsSizesFromHeaders_AndRejectsGarbage()
    {
        byte[] jpeg = TestSupport.EncodeJpeg(TestSupport.Pixels(48, 20, 0), 48, 20);
        FrameShape shape = FrameInspector.Inspect(new Frame { Encoded = new EncodedImage { Data = ByteString.CopyFrom(jpeg) } }, 4096, 4096);
        Assert.Equal((ImagingFormat.Jpeg, 48, 20), (shape.Format, shape.Width, shape.Height));

        var png = new byte[33];
        new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(png, 0);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(8), 13);
        "IHDR"u8.CopyTo(png.AsSpan(12));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), 640);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), 480);
        shape = FrameInspector.Inspect(new Frame { Encoded = new EncodedImage { Data = ByteString.CopyFrom(png), Format = "png" } }, 4096, 4096);
        Assert.Equal((ImagingFormat.Png, 640, 480), (shape.Format, shape.Width, shape.Height));

        var tooBig = Assert.Throws<RejectionException>(() => FrameInspector.Inspect(new Frame { Encoded = new EncodedImage { Data = ByteString.CopyFrom(png) } }, 320, 240));
        Assert.Contains("limit 320x240", tooBig.Message);
        var mismatch = Assert.Throws<RejectionException>(() => FrameInspector.Inspect(new Frame { Encoded = new EncodedImage { Data = ByteString.CopyFrom(jpeg), Format = "png" } }, 4096, 4096));
        Assert.Equal(RejectionKind.InvalidArgument, mismatch.Kind);
        Assert.Throws<RejectionException>(() => FrameInspector.Inspect(new Frame(), 4096, 4096));
        Assert.Throws<RejectionException>(() => FrameInspector.Inspect(new Frame { Raw = new RawImage { Width = 4, Height = 4, Data = ByteString.CopyFrom(new byte[48]) } }, 4096, 4096));
    }
}
