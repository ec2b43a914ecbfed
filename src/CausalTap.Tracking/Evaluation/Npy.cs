namespace CausalTap.Tracking.Evaluation;

/// <summary>Reading and writing single .npy files (format 1.0/2.0/3.0 on read; 1.0, or 2.0 for huge headers, on write).</summary>
public static class Npy
{
    /// <summary>Reads one array (header then data) from the current position of <paramref name="stream"/>.</summary>
    public static NpyArray Read(Stream stream)
    {
        NpyHeader header = NpyHeader.Read(stream);
        return NpyArray.ReadData(stream, header);
    }

    /// <summary>Reads a .npy file.</summary>
    public static NpyArray Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            return Read(stream);
        }
        catch (NpyFormatException e)
        {
            throw new NpyFormatException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Writes one array to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(array);
        array.WriteTo(stream);
    }

    /// <summary>Writes a .npy file (replacing an existing one).</summary>
    public static void Write(string path, NpyArray array)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        Write(stream, array);
    }
}
