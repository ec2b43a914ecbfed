using System.IO.Compression;

namespace CausalTap.Tracking.Evaluation;

/// <summary>
/// Reads a .npz archive (a zip of <c>KEY.npy</c> members, as written by <c>numpy.savez</c> (stored) and
/// <c>numpy.savez_compressed</c> (deflated)). Members are read lazily, one at a time: opening the archive
/// reads only the zip directory; <see cref="Read"/> decodes exactly one member straight into its typed
/// array; <see cref="OpenData"/> gives a stream positioned at a member's data for frame-by-frame reading.
/// Not thread-safe.
/// </summary>
public sealed class NpzReader : IDisposable
{
    private readonly ZipArchive _zip;
    private readonly Dictionary<string, ZipArchiveEntry> _entries = new(StringComparer.Ordinal);

    /// <summary>Opens the .npz file at <paramref name="path"/>.</summary>
    public NpzReader(string path)
        : this(OpenFile(path), leaveOpen: false, name: path)
    {
    }

    /// <summary>Opens a .npz archive from a seekable stream.</summary>
    public NpzReader(Stream stream, bool leaveOpen = false, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Name = name ?? "<stream>";
        try
        {
            _zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen);
        }
        catch (InvalidDataException e)
        {
            if (!leaveOpen) stream.Dispose();
            throw new NpyFormatException($"{Name}: not a valid .npz (zip) file: {e.Message}", e);
        }
        foreach (ZipArchiveEntry entry in _zip.Entries)
        {
            string key = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
            _entries[key] = entry;
        }
        Keys = _entries.Keys.ToArray();
    }

    /// <summary>The file path (or a placeholder) used in error messages.</summary>
    public string Name { get; }

    /// <summary>The array names, as <c>numpy.load(...).files</c> lists them (member names without <c>.npy</c>).</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>Whether the archive has an array called <paramref name="key"/>.</summary>
    public bool Contains(string key) => _entries.ContainsKey(key);

    /// <summary>Reads only the header of array <paramref name="key"/> (dtype, shape), not its data.</summary>
    public NpyHeader ReadHeader(string key)
    {
        using Stream s = OpenData(key, out NpyHeader header);
        return header;
    }

    /// <summary>Reads array <paramref name="key"/> completely.</summary>
    public NpyArray Read(string key)
    {
        using Stream s = OpenData(key, out NpyHeader header);
        try
        {
            return NpyArray.ReadData(s, header);
        }
        catch (NpyFormatException e)
        {
            throw new NpyFormatException($"{Name}: array '{key}': {e.Message}", e);
        }
        catch (InvalidDataException e)
        {
            throw new NpyFormatException($"{Name}: array '{key}': corrupt zip member: {e.Message}", e);
        }
    }

    /// <summary>
    /// Opens member <paramref name="key"/>, parses its header and returns the member stream positioned at the
    /// first data byte (C order, little-endian unless <c>header.DType.BigEndian</c>). Dispose it when done.
    /// </summary>
    public Stream OpenData(string key, out NpyHeader header)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!_entries.TryGetValue(key, out ZipArchiveEntry? entry))
            throw new KeyNotFoundException($"{Name}: no array '{key}' (the file has: {string.Join(", ", Keys)})");
        Stream s;
        try
        {
            s = entry.Open();
        }
        catch (InvalidDataException e)
        {
            throw new NpyFormatException($"{Name}: array '{key}': cannot open zip member: {e.Message}", e);
        }
        try
        {
            header = NpyHeader.Read(s);
            return s;
        }
        catch (Exception e)
        {
            s.Dispose();
            if (e is NpyFormatException or InvalidDataException)
                throw new NpyFormatException($"{Name}: array '{key}': {e.Message}", e);
            throw;
        }
    }

    /// <summary>Reads every array into a dictionary.</summary>
    public Dictionary<string, NpyArray> ReadAll()
    {
        var result = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
        foreach (string key in Keys) result[key] = Read(key);
        return result;
    }

    /// <summary>Reads every array of the .npz file at <paramref name="path"/>.</summary>
    public static Dictionary<string, NpyArray> Load(string path)
    {
        using var reader = new NpzReader(path);
        return reader.ReadAll();
    }

    /// <inheritdoc/>
    public void Dispose() => _zip.Dispose();

    private static FileStream OpenFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }
}

/// <summary>
/// Writes a .npz archive that <c>numpy.load</c> reads: one <c>KEY.npy</c> zip member per array, stored
/// (like <c>numpy.savez</c>) or deflated (like <c>numpy.savez_compressed</c>).
/// </summary>
public sealed class NpzWriter : IDisposable
{
    private static readonly DateTimeOffset FixedTimestamp = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly ZipArchive _zip;
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly bool _compressed;

    /// <summary>Creates (or replaces) the .npz file at <paramref name="path"/>.</summary>
    public NpzWriter(string path, bool compressed = false)
        : this(new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16), compressed, leaveOpen: false)
    {
    }

    /// <summary>Writes the archive to <paramref name="stream"/>.</summary>
    public NpzWriter(Stream stream, bool compressed = false, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _compressed = compressed;
        _zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen);
    }

    /// <summary>Adds array <paramref name="array"/> under <paramref name="key"/> (member <c>KEY.npy</c>).</summary>
    public void Add(string key, NpyArray array)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(array);
        if (!_keys.Add(key)) throw new ArgumentException($"duplicate array name '{key}'", nameof(key));
        // NoCompression makes System.IO.Compression write the member with method 0 (stored), as np.savez does.
        ZipArchiveEntry entry = _zip.CreateEntry(key + ".npy", _compressed ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
        entry.LastWriteTime = FixedTimestamp;
        using Stream s = entry.Open();
        array.WriteTo(s);
    }

    /// <summary>Writes all <paramref name="arrays"/> to a new .npz at <paramref name="path"/> (atomically: temp file, then rename).</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, NpyArray>> arrays, bool compressed = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(arrays);
        string full = Path.GetFullPath(path);
        string tmp = full + ".tmp-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            using (var writer = new NpzWriter(tmp, compressed))
            {
                foreach ((string key, NpyArray value) in arrays) writer.Add(key, value);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _zip.Dispose();
}
