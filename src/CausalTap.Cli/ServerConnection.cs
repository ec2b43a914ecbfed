using System.CommandLine;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using CausalTap.Protocol.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace CausalTap.Cli;

/// <summary><c>--server</c>, <c>--token</c>, <c>--tls-ca</c>: shared by the client commands (stream, subscribe, bench server).</summary>
internal sealed class ServerConnectionOptions
{
    public Option<string> Server { get; } = new("--server")
    {
        Description = "Server address: host:port (plain HTTP/2), http://host:port or https://host:port.",
        Required = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = "Bearer token for servers started with --auth-token (default: $CAUSALTAP_TOKEN).",
    };

    public Option<string?> TlsCa { get; } = new("--tls-ca")
    {
        Description = "PEM file of the CA that signed the server's certificate (implies https).",
    };

    public void AddTo(Command command)
    {
        command.Add(Server);
        command.Add(Token);
        command.Add(TlsCa);
    }

    public ServerConnection Connect(ParseResult parse) =>
        ServerConnection.Open(parse.GetValue(Server)!, parse.GetValue(Token) ?? Environment.GetEnvironmentVariable("CAUSALTAP_TOKEN"), parse.GetValue(TlsCa));
}

/// <summary>A channel to a CausalTap server plus the headers every call carries (the bearer token).</summary>
internal sealed class ServerConnection : IDisposable
{
    private readonly string? _token;

    private ServerConnection(GrpcChannel channel, string? token)
    {
        Channel = channel;
        Client = new Tracker.TrackerClient(channel);
        _token = string.IsNullOrEmpty(token) ? null : token;
    }

    public GrpcChannel Channel { get; }

    public Tracker.TrackerClient Client { get; }

    public static ServerConnection Open(string server, string? token = null, string? tlsCaFile = null)
    {
        Uri address = ParseAddress(server, tls: tlsCaFile is not null);
        var options = new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 };
        if (tlsCaFile is not null)
        {
            if (!File.Exists(tlsCaFile)) throw new CliException($"--tls-ca: '{tlsCaFile}' does not exist.");
            X509Certificate2Collection roots = [];
            roots.ImportFromPemFile(tlsCaFile);
            options.HttpHandler = new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    // Trust exactly the given CA (a private deployment's), not the system store.
                    RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    {
                        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
                        using var chain = new X509Chain();
                        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                        return chain.Build(new X509Certificate2(certificate));
                    },
                },
                EnableMultipleHttp2Connections = true,
            };
        }
        return new ServerConnection(GrpcChannel.ForAddress(address.ToString(), options), token);
    }

    /// <summary>"host:port" becomes http://host:port (https with TLS); URLs with a scheme are kept.</summary>
    public static Uri ParseAddress(string server, bool tls)
    {
        string text = server.Trim();
        if (!text.Contains("://", StringComparison.Ordinal)) text = (tls ? "https://" : "http://") + text;
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || (uri.Scheme != "http" && uri.Scheme != "https") || uri.IsDefaultPort && !server.Contains(':'))
        {
            throw new CliException($"--server '{server}' is not host:port, http://host:port or https://host:port.");
        }
        if (tls && uri.Scheme == "http") throw new CliException("--tls-ca needs an https:// address (or host:port).");
        return uri;
    }

    public CallOptions CallOptions(CancellationToken ct)
    {
        Metadata? headers = _token is null ? null : new Metadata { { "authorization", "Bearer " + _token } };
        return new CallOptions(headers, cancellationToken: ct);
    }

    public void Dispose() => Channel.Dispose();
}
