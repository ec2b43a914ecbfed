using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CausalTap.Grpc.Client;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Tests;

/// <summary>https:// addresses: TLS with ALPN "h2" against a Kestrel endpoint that accepts HTTP/2 only.</summary>
public sealed class ClientTlsTests
{
    [Fact]
    public async Task Https_NegotiatesH2_AndCompletesAUnaryCall()
    {
        using X509Certificate2 certificate = CreateSelfSigned();
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Http2 only: a client that did not offer "h2" in ALPN is refused.
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o =>
        {
            o.Protocols = HttpProtocols.Http2;
            o.UseHttps(certificate);
        }));
        await using WebApplication app = builder.Build();
        app.MapPost("/t/Hello", async ctx =>
        {
            ctx.Response.ContentType = "application/grpc";
            ctx.Response.AppendTrailer("grpc-status", "0");
            byte[] payload = new StringValue { Value = ctx.Request.Protocol }.ToByteArray();
            var frame = new byte[5 + payload.Length];
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
            payload.CopyTo(frame, 5);
            await ctx.Response.Body.WriteAsync(frame);
        });
        await app.StartAsync();
        int port = new Uri(app.Urls.First()).Port;

        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true; // self-signed test cert
        using var channel = GrpcChannel.ForAddress($"https://localhost:{port}", new GrpcChannelOptions { HttpHandler = handler });
        StringValue reply = await channel.UnaryCall(new Method<StringValue, StringValue>(MethodType.Unary, "t", "Hello"),
            new StringValue(), new CallOptions(Deadline: DateTime.UtcNow.AddSeconds(20)));

        Assert.Equal("HTTP/2", reply.Value);
        handler.Dispose();
    }

    private static X509Certificate2 CreateSelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        using X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        // Round-trip through PFX so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }
}
