using System.CommandLine;

namespace CausalTap.Cli;

/// <summary>Entry point of <c>causaltap</c>: one subcommand per user task (see README).</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("CausalTap: real-time causal point tracking (TAPIR family + GMRW) over gRPC.");

        // --version prints more than the assembly version: users need to know which ONNX Runtime and
        // which execution providers they actually got before they pick a model or a provider.
        foreach (Option option in root.Options)
        {
            if (option is VersionOption versionOption)
            {
                versionOption.Action = new DelegateAction(_ => InfoCommand.PrintVersion(Console.Out));
            }
        }
        root.SetAction(_ => InfoCommand.PrintInfo(Console.Out));

        root.Add(InfoCommand.CreateModelsCommand());
        root.Add(TrackCommand.Create());
        root.Add(EvalCommand.Create());
        root.Add(PredictCommand.Create());
        root.Add(Bench.BenchCommand.Create());
        root.Add(OnnxRunCommand.Create());
        root.Add(ServeCommand.Create());
        root.Add(ReplayCommand.Create());
        root.Add(StreamCommand.Create());
        root.Add(SubscribeCommand.Create());

        return root.Parse(args).Invoke();
    }

    /// <summary>Adapts a lambda to System.CommandLine's synchronous action type.</summary>
    private sealed class DelegateAction(Func<ParseResult, int> action) : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult) => action(parseResult);
    }
}
