using System.Diagnostics;
using System.Text.Json;
using CausalTap.Grpc;
using CausalTap.Grpc.Client;
using CausalTap.Grpc.Server;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace CausalTap.Cli.Bench;

/// <summary>
/// Loopback latency of our gRPC transport: server (Kestrel, h2c) and client (HttpClient) in one process,
/// talking over 127.0.0.1. Measures one small unary call at a time and one message round trip on a
/// long-lived bidi stream (what a camera/controller session looks like).
/// </summary>
internal static class TransportBenchmark
{
    public sealed record Settings(int Calls, int Warmup, int PayloadBytes, bool Json);

    private static readonly Method<BytesValue, BytesValue> UnaryEcho = new(MethodType.Unary, "causaltap.bench.Echo", "Unary");
    private static readonly Method<BytesValue, BytesValue> PingPong = new(MethodType.DuplexStreaming, "causaltap.bench.Echo", "PingPong");

    public static async Task<int> RunAsync(Settings settings, TextWriter output, CancellationToken cancellationToken)
    {
        var registry = new GrpcServiceRegistry()
            .AddUnary(UnaryEcho, (request, _) => Task.FromResult(request))
            .AddDuplexStreaming(PingPong, async (requests, responses, context) =>
            {
                while (await requests.MoveNext(context.CancellationToken))
                {
                    await responses.WriteAsync(requests.Current, context.CancellationToken);
                }
            });

        await using GrpcServerHost host = await GrpcServerHost.StartAsync(registry);
        using GrpcChannel channel = GrpcChannel.ForAddress(host.Address);
        var request = new BytesValue { Value = ByteString.CopyFrom(new byte[settings.PayloadBytes]) };

        LatencyStats unary = LatencyStats.FromTicks(await MeasureUnaryAsync(channel, request, settings, cancellationToken));
        LatencyStats pingPong = LatencyStats.FromTicks(await MeasurePingPongAsync(channel, request, settings, cancellationToken));

        string machine = MachineInfo.Describe();
        if (settings.Json)
        {
            output.WriteLine(JsonSerializer.Serialize(new { machine, settings.PayloadBytes, unary, pingPong }));
            return 0;
        }
        output.WriteLine($"gRPC loopback latency, {settings.PayloadBytes}-byte payload, {settings.Calls} calls after {settings.Warmup} warm-up");
        output.WriteLine($"machine: {machine}");
        output.WriteLine($"{"scenario",-16} {"median ms",10} {"p99 ms",10} {"mean ms",10} {"min ms",10} {"max ms",10} {"calls/s",10}");
        foreach (var (name, s) in new[] { ("unary", unary), ("bidi ping-pong", pingPong) })
        {
            output.WriteLine($"{name,-16} {s.MedianMs,10:F3} {s.P99Ms,10:F3} {s.MeanMs,10:F3} {s.MinMs,10:F3} {s.MaxMs,10:F3} {1000 / s.MeanMs,10:F0}");
        }
        return 0;
    }

    private static async Task<long[]> MeasureUnaryAsync(GrpcChannel channel, BytesValue request, Settings settings, CancellationToken ct)
    {
        var samples = new long[settings.Calls];
        for (int i = -settings.Warmup; i < settings.Calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            using AsyncUnaryCall<BytesValue> call = channel.UnaryCall(UnaryEcho, request, new CallOptions(CancellationToken: ct));
            BytesValue reply = await call.ResponseAsync;
            long elapsed = Stopwatch.GetTimestamp() - start;
            if (reply.Value.Length != request.Value.Length) throw new InvalidOperationException("Echo returned a different payload.");
            if (i >= 0) samples[i] = elapsed;
        }
        return samples;
    }

    private static async Task<long[]> MeasurePingPongAsync(GrpcChannel channel, BytesValue request, Settings settings, CancellationToken ct)
    {
        var samples = new long[settings.Calls];
        using AsyncDuplexStreamingCall<BytesValue, BytesValue> call = channel.DuplexStreamingCall(PingPong, new CallOptions(CancellationToken: ct));
        for (int i = -settings.Warmup; i < settings.Calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await call.RequestStream.WriteAsync(request, ct);
            if (!await call.ResponseStream.MoveNext(ct)) throw new InvalidOperationException("The server ended the ping-pong stream early.");
            long elapsed = Stopwatch.GetTimestamp() - start;
            if (i >= 0) samples[i] = elapsed;
        }
        await call.RequestStream.CompleteAsync();
        while (await call.ResponseStream.MoveNext(ct))
        {
            // Drain until the server's status arrives.
        }
        return samples;
    }
}
