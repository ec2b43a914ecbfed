namespace CausalTap.TestShared;

/// <summary>
/// Where the test binaries' repository is: $CAUSALTAP_ROOT, else the first folder above the binaries that holds
/// CausalTap.sln. One copy, linked into every test project that needs it (see the test .csproj files).
/// </summary>
internal static class TestRepo
{
    private static readonly Lazy<string?> s_root = new(() =>
    {
        string? fromEnv = Environment.GetEnvironmentVariable("CAUSALTAP_ROOT");
        if (!string.IsNullOrEmpty(fromEnv)) return fromEnv;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CausalTap.sln"))) return dir.FullName;
        }
        return null;
    });

    /// <summary>The repository root, or null when the binaries do not sit inside a checkout.</summary>
    public static string? TryRoot => s_root.Value;

    /// <summary>The repository root; throws with the place searched when there is none.</summary>
    public static string Root => s_root.Value ??
        throw new InvalidOperationException($"CausalTap.sln not found above {AppContext.BaseDirectory}; set CAUSALTAP_ROOT.");
}
