using Grpc.Core;

namespace CausalTap.Server;

/// <summary>Episode names on the wire are plain file names under the server's episode directory, never paths.</summary>
internal static class EpisodeFiles
{
    /// <summary>INVALID_ARGUMENT unless <paramref name="name"/> is a plain file name (no separators, no "..", no control characters).</summary>
    public static void CheckName(string name, string field)
    {
        bool bad = string.IsNullOrWhiteSpace(name)
                   || name.Contains('/') || name.Contains('\\') || name.Contains("..", StringComparison.Ordinal)
                   || name.StartsWith('.') || name.Any(char.IsControl) || name.Length > 255;
        if (bad)
        {
            throw new RejectionException(RejectionKind.InvalidArgument,
                $"{field} '{name}' must be a plain file name in the server's episode directory (no '/', '\\' or '..')");
        }
    }

    /// <summary>The full path of an existing episode; INVALID_ARGUMENT for a path-like name, NOT_FOUND when missing.</summary>
    public static string ResolveExisting(string episodesDirectory, string name, string field)
    {
        CheckName(name, field);
        string root = Path.GetFullPath(episodesDirectory);
        string path = Path.GetFullPath(Path.Combine(root, name));
        // Belt and braces: whatever the name, the result must sit directly in the episode directory.
        if (!string.Equals(Path.GetDirectoryName(path), Path.TrimEndingDirectorySeparator(root), StringComparison.Ordinal))
            throw new RejectionException(RejectionKind.InvalidArgument, $"{field} '{name}' resolves outside the episode directory");
        if (!File.Exists(path)) throw new RejectionException(RejectionKind.NotFound, $"episode '{name}' not found in the server's episode directory");
        return path;
    }
}
