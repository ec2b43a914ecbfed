namespace CausalTap.Tracking.Evaluation;

/// <summary>How TAP-Vid query points were sampled, which decides the frames a track is evaluated on.</summary>
public enum TapVidQueryMode
{
    /// <summary>
    /// "query_first": each track is queried at its first visible frame. Only frames strictly after the query
    /// frame are evaluated (the reference treats everything before the query as known-occluded and removes it).
    /// A tracker run in this mode must be causal.
    /// </summary>
    First,

    /// <summary>
    /// "query_strided": queries sampled every 5 frames wherever the track is visible; every frame except the
    /// query frame is evaluated, so the tracker must also track backwards in time.
    /// </summary>
    Strided,
}

/// <summary>Parsing and naming of <see cref="TapVidQueryMode"/>.</summary>
public static class TapVidQueryModes
{
    /// <summary>The name used in files and on the command line: <c>first</c> or <c>strided</c>.</summary>
    public static string ToName(this TapVidQueryMode mode) => mode switch
    {
        TapVidQueryMode.First => "first",
        TapVidQueryMode.Strided => "strided",
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    /// <summary>Parses <c>first</c>/<c>strided</c> (also <c>query_first</c>/<c>query_strided</c>, any case).</summary>
    public static bool TryParse(string? text, out TapVidQueryMode mode)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "first" or "query_first":
                mode = TapVidQueryMode.First;
                return true;
            case "strided" or "query_strided":
                mode = TapVidQueryMode.Strided;
                return true;
            default:
                mode = default;
                return false;
        }
    }

    /// <summary>Parses a query mode or throws <see cref="ArgumentException"/> naming the accepted values.</summary>
    public static TapVidQueryMode Parse(string? text) =>
        TryParse(text, out TapVidQueryMode mode)
            ? mode
            : throw new ArgumentException($"unknown query mode '{text}' (expected 'first' or 'strided')", nameof(text));
}
