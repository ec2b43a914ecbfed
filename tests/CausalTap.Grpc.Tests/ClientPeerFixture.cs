using System.Diagnostics;
using System.Runtime.CompilerServices;
using CausalTap.Grpc.Client;
using Google.Protobuf.WellKnownTypes;

namespace CausalTap.Grpc.Tests;

/// <summary>
/// Runs peers/echo_server.py (Python grpcio, an independent gRPC implementation) for the client tests and
/// kills it afterwards. Uses /usr/bin/python3, where Debian's python3-grpcio lives.
/// </summary>
public sealed class ClientPeerFixture : IDisposable
{
    private const string Python = "/usr/bin/python3";
    private readonly Process _process;

    public ClientPeerFixture()
    {
        var start = new ProcessStartInfo(Python, $"-u \"{FindScript()}\"")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the Python gRPC peer.");
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("[echo_server] " + e.Data); };
        _process.BeginErrorReadLine();
        Task<string?> line = _process.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(30)) || !int.TryParse(line.Result, out int port))
        {
            Dispose();
            throw new InvalidOperationException($"The Python gRPC peer did not report its port (got '{(line.IsCompleted ? line.Result : "<nothing>")}').");
        }
        Address = $"http://127.0.0.1:{port}";
        Channel = GrpcChannel.ForAddress(Address);
    }

    public string Address { get; }

    /// <summary>A default channel shared by tests that need no special options.</summary>
    public GrpcChannel Channel { get; }

    public void Dispose()
    {
        Channel?.Dispose();
        try
        {
            _process.StandardInput.Close(); // the script exits when stdin closes
            if (!_process.WaitForExit(3000)) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        _process.Dispose();
    }

    /// <summary>Next to the test binaries when the project copies it there, else next to this source file.</summary>
    private static string FindScript([CallerFilePath] string sourceFile = "")
    {
        string copied = Path.Combine(AppContext.BaseDirectory, "peers", "echo_server.py");
        if (File.Exists(copied)) return copied;
        string source = Path.Combine(Path.GetDirectoryName(sourceFile)!, "peers", "echo_server.py");
        return File.Exists(source) ? source : throw new FileNotFoundException("peers/echo_server.py not found.", source);
    }
}

[CollectionDefinition(Name)]
public sealed class ClientPeerCollection : ICollectionFixture<ClientPeerFixture>
{
    public const string Name = "Client python peer";
}

/// <summary>The methods echo_server.py serves.</summary>
internal static class ClientEchoMethods
{
    private const string Service = "causaltap.test.Echo";

    public static readonly Method<StringValue, StringValue> Echo = new(MethodType.Unary, Service, "Echo");
    public static readonly Method<StringValue, StringValue> Fail = new(MethodType.Unary, Service, "Fail");
    public static readonly Method<StringValue, StringValue> Metadata = new(MethodType.Unary, Service, "Metadata");
    public static readonly Method<Int32Value, Int32Value> Sleep = new(MethodType.Unary, Service, "Sleep");
    public static readonly Method<Int32Value, BytesValue> Big = new(MethodType.Unary, Service, "Big");
    public static readonly Method<StringValue, StringValue> WasCancelled = new(MethodType.Unary, Service, "WasCancelled");
    public static readonly Method<Int32Value, Int32Value> Count = new(MethodType.ServerStreaming, Service, "Count");
    public static readonly Method<StringValue, Int32Value> Ticker = new(MethodType.ServerStreaming, Service, "Ticker");
    public static readonly Method<Int32Value, Int32Value> Sum = new(MethodType.ClientStreaming, Service, "Sum");
    public static readonly Method<StringValue, StringValue> Chat = new(MethodType.DuplexStreaming, Service, "Chat");
    public static readonly Method<StringValue, StringValue> Missing = new(MethodType.Unary, Service, "NoSuchMethod");

    /// <summary>A deadline so a broken client fails a test instead of hanging it.</summary>
    public static CallOptions Guard(CancellationToken token = default) => new(Deadline: DateTime.UtcNow.AddSeconds(20), CancellationToken: token);
}
