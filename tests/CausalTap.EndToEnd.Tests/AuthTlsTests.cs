using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CausalTap.EndToEnd.Tests.TestSupport;
using CausalTap.Protocol.V1;
using Xunit.Abstractions;

namespace CausalTap.EndToEnd.Tests;

/// <summary>
/// `causaltap stream` against a server with TLS (a private CA made in the test) and a bearer token: --tls-ca and
/// --token are what get a camera in; without them it is refused with a clear error.
/// </summary>
public sealed class AuthTlsTests(ITestOutputHelper log) : IDisposable
{
    private const string Token = "e2e-s3cret-token";
    private readonly string _dir = Directory.CreateTempSubdirectory("causaltap-e2e-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Stream_needs_the_token_and_trusts_the_server_through_its_ca_file()
    {
        E2EEnvironment.RequireFfmpeg();
        var tls = MakeCertificates(_dir);
        await using ServerProcess server = await ServerProcess.StartAsync(Path.Combine(_dir, "episodes"), 0, tls, Token);
        string[] common = ["stream", "synthetic:160x120", "--server", server.HostPort, "--max-frames", "5", "--fps", "30"];

        ProcessResult ok = await ChildProcess.StartCli([.. common, "--tls-ca", tls.Ca, "--token", Token]).WaitForExitAsync(TimeSpan.FromMinutes(2));
        log.WriteLine(ok.Stdout);
        Assert.True(ok.ExitCode == 0, ok.Tail());
        Assert.Contains("sent 5 frames: queued 5", ok.Stdout);

        ProcessResult noToken = await ChildProcess.StartCli([.. common, "--tls-ca", tls.Ca]).WaitForExitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(1, noToken.ExitCode);
        Assert.Contains("Unauthenticated", noToken.Stderr);

        ProcessResult wrongToken = await ChildProcess.StartCli([.. common, "--tls-ca", tls.Ca, "--token", "not-it"]).WaitForExitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(1, wrongToken.ExitCode);
        Assert.Contains("Unauthenticated", wrongToken.Stderr);

        // Without the CA file the system trust store is used, which does not know the test CA.
        ProcessResult untrusted = await ChildProcess.StartCli(["stream", "synthetic:160x120", "--server", $"https://{server.HostPort}",
            "--max-frames", "5", "--token", Token]).WaitForExitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(1, untrusted.ExitCode);
        Assert.Contains("error:", untrusted.Stderr);

        ListSessionsResponse sessions = await server.Client.ListSessionsAsync(new ListSessionsRequest(), server.CallOptionsWithToken());
        Assert.DoesNotContain(sessions.Sessions, s => s.State == SessionState.Open);
    }

    /// <summary>A CA and a server certificate for 127.0.0.1/localhost signed by it, as PEM files.</summary>
    private static (string Cert, string Key, string Ca) MakeCertificates(string dir)
    {
        using RSA caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=causaltap e2e test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using X509Certificate2 ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));

        using RSA serverKey = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // server auth
        using X509Certificate2 leaf = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), [1, 2, 3, 4]);

        string cert = Path.Combine(dir, "server.pem"), key = Path.Combine(dir, "server.key"), caFile = Path.Combine(dir, "ca.pem");
        File.WriteAllText(cert, leaf.ExportCertificatePem());
        File.WriteAllText(key, serverKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(caFile, ca.ExportCertificatePem());
        return (cert, key, caFile);
    }
}
