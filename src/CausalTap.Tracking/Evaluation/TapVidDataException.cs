namespace CausalTap.Tracking.Evaluation;

/// <summary>A TAP-Vid example or prediction file has a missing key, a wrong dtype or shape, or bad values.</summary>
public sealed class TapVidDataException : IOException
{
    /// <summary>Creates the exception with a message that names the file and the problem.</summary>
    public TapVidDataException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the underlying error.</summary>
    public TapVidDataException(string message, Exception inner) : base(message, inner) { }
}
