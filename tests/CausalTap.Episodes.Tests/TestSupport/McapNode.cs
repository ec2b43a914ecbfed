using System.Diagnostics;
using System.Text.Json;

namespace CausalTap.Episodes.Tests.TestSupport;

/// <summary>Runs mcap_reader/read_mcap.mjs (npm @mcap/core, an independent MCAP reader) on a file.</summary>
public static class McapNode
{
    private static readonly Lazy<string> s_folder = new(FindFolder);

    private static string FindFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "CausalTap.Episodes.Tests", "mcap_reader");
            if (File.Exists(Path.Combine(candidate, "read_mcap.mjs")))
            {
                if (!Directory.Exists(Path.Combine(candidate, "node_modules", "@mcap", "core")))
                {
                    throw new InvalidOperationException($"@mcap/core is not installed: run `npm ci` in {candidate} (scripts/setup.sh does).");
                }
                return candidate;
            }
        }
        throw new InvalidOperationException("tests/CausalTap.Episodes.Tests/mcap_reader not found above " + AppContext.BaseDirectory);
    }

    private static string Node => File.Exists("/usr/bin/node") ? "/usr/bin/node" : "node";

    /// <summary>The folder of the independent readers (read_mcap.mjs, decode_samples.py).</summary>
    public static string Folder => s_folder.Value;

    /// <summary>
    /// Reads <paramref name="mcapPath"/> with @mcap/core's stream and indexed readers; returns the script's JSON. With
    /// <paramref name="samples"/> it also holds each schema's data and each channel's first message (base64).
    /// </summary>
    public static JsonElement Read(string mcapPath, bool samples = false)
    {
        var info = new ProcessStartInfo(Node)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = s_folder.Value,
        };
        info.ArgumentList.Add(Path.Combine(s_folder.Value, "read_mcap.mjs"));
        info.ArgumentList.Add(mcapPath);
        if (samples)
        {
            info.ArgumentList.Add("--samples");
        }
        using var p = Process.Start(info)!;
        var err = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"read_mcap.mjs failed ({p.ExitCode}): {err.Result}");
        }
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }
}
