using System.Text;

namespace CausalTap.Cli.Tests;

/// <summary>Runs the CLI in-process with captured output. Console is process-wide, so these tests never run in parallel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CliCollection
{
    public const string Name = "cli";
}

internal static class CliRunner
{
    public static (int ExitCode, string Output) Run(params string[] args)
    {
        TextWriter oldOut = Console.Out, oldError = Console.Error;
        var output = new StringWriter(new StringBuilder());
        Console.SetOut(output);
        Console.SetError(output);
        try
        {
            int rc = Program.Main(args);
            return (rc, output.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldError);
        }
    }
}
