namespace CausalTap.Tracking.Evaluation;

/// <summary>A .npy/.npz file is malformed or uses a feature this reader does not support.</summary>
public sealed class NpyFormatException : IOException
{
    /// <summary>Creates the exception with a message that says what is wrong.</summary>
    public NpyFormatException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the underlying error.</summary>
    public NpyFormatException(string message, Exception inner) : base(message, inner) { }
}
