using System.CommandLine;

namespace CausalTap.Cli.Bench;

/// <summary><c>causaltap bench …</c>: benchmarks that print numbers with the machine they ran on.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks (numbers are printed with the machine they ran on).");

        var calls = new Option<int>("--calls") { Description = "Measured calls per scenario (at least 2000).", DefaultValueFactory = _ => 5000 };
        var warmup = new Option<int>("--warmup") { Description = "Unmeasured calls first (JIT, connection set-up).", DefaultValueFactory = _ => 500 };
        var payload = new Option<int>("--payload") { Description = "Request and response payload in bytes.", DefaultValueFactory = _ => 64 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        calls.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 2000) r.AddError("--calls must be at least 2000 so that p99 rests on at least 20 samples.");
        });

        var transport = new Command("transport", "Loopback latency of the gRPC transport: a small unary call and a bidi ping-pong.")
        {
            calls, warmup, payload, json,
        };
        transport.SetAction((parse, ct) => TransportBenchmark.RunAsync(
            new TransportBenchmark.Settings(parse.GetValue(calls), parse.GetValue(warmup), parse.GetValue(payload), parse.GetValue(json)),
            Console.Out, ct));
        bench.Add(transport);
        return bench;
    }
}
