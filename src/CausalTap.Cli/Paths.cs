namespace CausalTap.Cli;

/// <summary>Where the CLI finds its files: the launcher sets CAUSALTAP_HOME to the repository root.</summary>
internal static class Paths
{
    /// <summary>The repository root (or the current directory when run outside the launcher).</summary>
    public static string Home => Environment.GetEnvironmentVariable("CAUSALTAP_HOME") is { Length: > 0 } home
        ? home
        : Directory.GetCurrentDirectory();

    /// <summary>The folder of model directories: CAUSALTAP_MODELS, else {home}/models.</summary>
    public static string Models => Environment.GetEnvironmentVariable("CAUSALTAP_MODELS") is { Length: > 0 } models
        ? models
        : Path.Combine(Home, "models");
}
