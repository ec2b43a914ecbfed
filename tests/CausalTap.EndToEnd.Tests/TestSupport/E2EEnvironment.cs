using System.Diagnostics;

namespace CausalTap.EndToEnd.Tests.TestSupport;

/// <summary>Where the repository, the built CLI, the peers and the shared data are; what is missing and why.</summary>
public static class E2EEnvironment
{
    public const string Python = "/usr/bin/python3";
    public const string SetupHint = "run scripts/setup.sh (builds the CLI; apt: python3-grpcio python3-opencv protobuf-compiler protobuf-compiler-grpc grpc-proto ffmpeg; npm ci in tests/interop/node)";

    public static readonly string RepoRoot = CausalTap.TestShared.TestRepo.Root;

    /// <summary>The CLI built by the same configuration as these tests (the project reference builds it).</summary>
    public static string CliDll
    {
        get
        {
            string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
            return Path.Combine(RepoRoot, "src", "CausalTap.Cli", "bin", configuration, "net10.0", "causaltap.dll");
        }
    }

    public static string PeersDir => Path.Combine(RepoRoot, "tests", "CausalTap.EndToEnd.Tests", "peers");

    public static string NodeDir => Path.Combine(RepoRoot, "tests", "interop", "node");

    public static string PythonClientDir => Path.Combine(RepoRoot, "clients", "python");

    /// <summary>Environment every child process gets: the repository as home (models/).</summary>
    public static void ApplyTo(ProcessStartInfo info)
    {
        info.Environment["CAUSALTAP_HOME"] = RepoRoot;
        info.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        info.Environment["PYTHONUNBUFFERED"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
    }

    /// <summary>../shared/data (or $CAUSALTAP_SHARED/data); null when absent.</summary>
    public static string? SharedData
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable("CAUSALTAP_SHARED");
            string dir = !string.IsNullOrEmpty(env) ? Path.Combine(env, "data") : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));
            return Directory.Exists(dir) ? dir : null;
        }
    }

    private static readonly Lazy<string?> s_pythonProblem = new(() =>
    {
        foreach (string f in new[] { Python, "/usr/bin/protoc", "/usr/bin/grpc_python_plugin" })
        {
            if (!File.Exists(f)) return $"{f} is missing";
        }
        ProcessResult r = ChildProcess.RunAsync(Python, ["-c", "import grpc, google.protobuf, cv2, numpy"], RepoRoot, TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        return r.ExitCode == 0 ? null : $"{Python} cannot import grpc/protobuf/cv2/numpy: {r.Tail()}";
    });

    private static readonly Lazy<string?> s_nodeProblem = new(() =>
    {
        foreach (string pkg in new[] { "@grpc/grpc-js", "@grpc/proto-loader" })
        {
            if (!File.Exists(Path.Combine(NodeDir, "node_modules", pkg, "package.json"))) return $"{pkg} is not installed in {NodeDir}/node_modules";
        }
        return null;
    });

    private static readonly Lazy<string?> s_ffmpegProblem = new(() =>
    {
        ProcessResult r = ChildProcess.RunAsync("ffmpeg", ["-version"], RepoRoot, TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        return r.ExitCode == 0 ? null : "ffmpeg is not on PATH";
    });

    /// <summary>Fails the test with the set-up hint: missing prerequisites are set-up bugs, not reasons to pass.</summary>
    public static void RequirePython()
    {
        if (s_pythonProblem.Value is { } p) Assert.Fail($"grpcio peer unavailable: {p}; {SetupHint}");
    }

    public static void RequireNode()
    {
        if (s_nodeProblem.Value is { } p) Assert.Fail($"grpc-js peer unavailable: {p}; {SetupHint}");
    }

    public static void RequireFfmpeg()
    {
        if (s_ffmpegProblem.Value is { } p) Assert.Fail($"{p}; {SetupHint}");
    }

    public static void RequireCli()
    {
        if (!File.Exists(CliDll)) Assert.Fail($"{CliDll} is not built; {SetupHint}");
    }
}

/// <summary>A fact that is skipped, with the reason, when a file under the shared data folder is absent.</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute(string relativePath)
    {
        string? data = E2EEnvironment.SharedData;
        if (data is null) Skip = "shared data not found: set CAUSALTAP_SHARED or place the shared folder at ../shared next to the repository (the synthetic-frame variant of this test still runs)";
        else if (!File.Exists(Path.Combine(data, relativePath))) Skip = $"shared data has no {relativePath} (the synthetic-frame variant of this test still runs)";
    }
}
