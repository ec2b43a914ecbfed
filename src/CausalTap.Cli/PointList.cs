using System.Globalization;
using CausalTap.Protocol.V1;

namespace CausalTap.Cli;

/// <summary>Wall-clock time as the wire wants it: nanoseconds since the Unix epoch (UTC).</summary>
internal static class WallClock
{
    public static long NowNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
}

/// <summary>Query points for the client commands, as <see cref="PointQuery"/> messages; the parsing and the grid
/// are <see cref="TrackCommand"/>'s, so every command reads "x,y;x,y" and --grid the same way.</summary>
internal static class PointList
{
    public static bool TryParse(string? text, out List<PointQuery> points, out string? error)
    {
        points = [];
        error = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        try
        {
            points = TrackCommand.ParsePoints(text).Select(p => new PointQuery { X = p.X, Y = p.Y }).ToList();
            return true;
        }
        catch (CliException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    /// <summary>n x n points at the centres of an n x n grid of cells over a width x height frame, row by row.</summary>
    public static IEnumerable<PointQuery> Grid(int n, int width, int height) =>
        TrackCommand.GridPoints(n, width, height).Select(p => new PointQuery { X = p.X, Y = p.Y });
}

// ------------------------------------------------------------------------------------------- connection
