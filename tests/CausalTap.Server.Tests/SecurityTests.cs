using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using CausalTap.Protocol.V1;
using Grpc.Health.V1;
using static CausalTap.Server.Tests.TestSupport;

namespace CausalTap.Server.Tests;

/// <summary>Bearer auth, TLS from PEM files, and the refusal to serve the network insecurely.</summary>
public sealed class SecurityTests
{
    [Fact]
    public async Task BearerToken_IsRequiredForTrackerCalls_ButNotForHealth()
    {
        TrackerServerOptions options = Servers.Options();
        options.AuthToken = "s3cret-token";
        await using TrackerServer server = await Servers.StartFake(options, new FakeEngineFactory());
        Tracker.TrackerClient client = Client(server.Address);

        var missing = await Assert.ThrowsAsync<RpcException>(() => client.GetServerInfoAsync(new GetServerInfoRequest(), Options()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, missing.StatusCode);
        var wrong = await Assert.ThrowsAsync<RpcException>(() =>
            client.OpenSessionAsync(new OpenSessionRequest { CameraId = "c" }, Options(new Metadata { { "authorization", "Bearer nope" } })).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        using var sub = client.Subscribe(new SubscribeRequest { SessionId = "x" }, Options());
        var streaming = await Assert.ThrowsAsync<RpcException>(() => sub.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Unauthenticated, streaming.StatusCode);

        Metadata auth = new Metadata { { "authorization", "Bearer s3cret-token" } };
        ServerInfo info = await client.GetServerInfoAsync(new GetServerInfoRequest(), Options(auth));
        Assert.True(info.AuthRequired);
        SessionInfo session = await client.OpenSessionAsync(new OpenSessionRequest { CameraId = "c" }, Options(auth));
        Assert.Equal(SessionState.Open, session.State);
        // The scheme is case-insensitive (RFC 7235): "bearer" works too.
        await client.GetServerInfoAsync(new GetServerInfoRequest(), Options(new Metadata { { "authorization", "bearer s3cret-token" } }));

        // Reflection describes the API: it needs the token too.
        var reflection = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(Grpc.Net.Client.GrpcChannel.ForAddress(server.Address));
        async Task<int> ListServices(Metadata? headers)
        {
            using var call = reflection.ServerReflectionInfo(Options(headers));
            await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" });
            await call.RequestStream.CompleteAsync();
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            return call.ResponseStream.Current.ListServicesResponse.Service.Count;
        }
        var unauthenticated = await Assert.ThrowsAsync<RpcException>(() => ListServices(null));
        Assert.Equal(StatusCode.Unauthenticated, unauthenticated.StatusCode);
        Assert.True(await ListServices(auth) >= 3);

        HealthCheckResponse health = await HealthClient(server.Address).CheckAsync(new HealthCheckRequest(), Options());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    [Fact]
    public async Task Tls_FromPemFiles_ServesHttpsClients()
    {
        string dir = TempDirectory();
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
            using X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            File.WriteAllText(Path.Combine(dir, "cert.pem"), cert.ExportCertificatePem());
            File.WriteAllText(Path.Combine(dir, "key.pem"), key.ExportPkcs8PrivateKeyPem());
        }
        TrackerServerOptions options = Servers.Options();
        options.TlsCertificatePath = Path.Combine(dir, "cert.pem");
        options.TlsKeyPath = Path.Combine(dir, "key.pem");
        await using TrackerServer server = await Servers.StartFake(options, new FakeEngineFactory());
        Assert.StartsWith("https://", server.Address);

        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true; // the test's self-signed certificate
        Tracker.TrackerClient client = Client(server.Address, handler: handler);
        ServerInfo info = await client.GetServerInfoAsync(new GetServerInfoRequest(), Options());
        Assert.True(info.Tls);
        SessionInfo session = await client.OpenSessionAsync(new OpenSessionRequest { CameraId = "c" }, Options());
        await client.SubmitFrameAsync(RawFrame(session.SessionId, 8, 8, 0, 1), Options());

        // A cleartext client cannot talk to the TLS port.
        Tracker.TrackerClient plain = Client(server.Address.Replace("https://", "http://"));
        await Assert.ThrowsAsync<RpcException>(() => plain.GetServerInfoAsync(new GetServerInfoRequest(), Options(seconds: 10)).ResponseAsync);
    }

    [Fact]
    public async Task NonLoopbackWithoutTlsOrAuth_IsRefused_UnlessAllowed()
    {
        TrackerServerOptions options = Servers.Options();
        options.Host = "0.0.0.0";
        var e = await Assert.ThrowsAsync<ServerConfigurationException>(() => Servers.StartFake(options, new FakeEngineFactory()));
        Assert.Contains("--allow-insecure", e.Message);
        options.AllowInsecure = true;
        await using TrackerServer server = await Servers.StartFake(options, new FakeEngineFactory());
        ServerInfo info = await Client(server.Address).GetServerInfoAsync(new GetServerInfoRequest(), Options());
        Assert.False(info.AuthRequired);
    }

    [Fact]
    public async Task A_token_without_TLS_on_a_non_loopback_bind_is_refused_unless_allowed()
    {
        TrackerServerOptions options = Servers.Options();
        options.Host = "0.0.0.0";
        options.AuthToken = "s3cret-token";
        var e = await Assert.ThrowsAsync<ServerConfigurationException>(() => Servers.StartFake(options, new FakeEngineFactory()));
        Assert.Contains("cleartext", e.Message);
        Assert.Contains("--allow-insecure", e.Message);
        options.AllowInsecure = true;
        await using TrackerServer server = await Servers.StartFake(options, new FakeEngineFactory());
        Assert.True((await Client(server.Address).GetServerInfoAsync(new GetServerInfoRequest(), Options(new Metadata { { "authorization", "Bearer s3cret-token" } }))).AuthRequired);
    }
}
