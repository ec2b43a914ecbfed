using System.Runtime.InteropServices;

namespace CausalTap.Cli.Bench;

/// <summary>One line that says what a benchmark ran on, so numbers are never quoted without their machine.</summary>
internal static class MachineInfo
{
    public static string Describe()
    {
        string cpu = "unknown CPU";
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null) cpu = line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            // Not Linux or no procfs: the core count and OS below still say a lot.
        }
        return $"{cpu}, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}";
    }
}
