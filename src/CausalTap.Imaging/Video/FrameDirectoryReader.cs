namespace CausalTap.Imaging.Video;

/// <summary>
/// Reads a folder of JPEG/PNG frames (<c>*.jpg</c>, <c>*.jpeg</c>, <c>*.png</c>, any case) in name order.
/// Names are compared "naturally" (digit runs by value, so <c>frame2</c> precedes <c>frame10</c>; zero-padded
/// names sort the same either way). Every frame must have the size of the first one. The file bytes go through
/// a reused buffer and one <see cref="FrameDecoder"/>.
/// </summary>
public sealed class FrameDirectoryReader : IFrameSource
{
    private static readonly string[] s_extensions = [".jpg", ".jpeg", ".png"];
    private readonly FrameDecoder _decoder = new();
    private byte[] _fileBuffer = [];
    private int _next;

    /// <summary>Lists the frames of <paramref name="directory"/> and reads the first one's size.</summary>
    /// <exception cref="VideoIOException">the folder is missing or holds no JPEG/PNG files.</exception>
    /// <exception cref="ImageDecodeException">the first frame cannot be decoded.</exception>
    public FrameDirectoryReader(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new VideoIOException($"frame folder '{directory}' does not exist");
        }
        var files = Directory.EnumerateFiles(directory)
            .Where(f => s_extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .ToList();
        files.Sort((a, b) => NaturalCompare(Path.GetFileName(a), Path.GetFileName(b)));
        if (files.Count == 0)
        {
            throw new VideoIOException($"frame folder '{directory}' has no .jpg, .jpeg or .png files");
        }
        Files = files;
        using var first = new RgbImage();
        DecodeFile(files[0], first);
        Width = first.Width;
        Height = first.Height;
    }

    /// <summary>The frame files in reading order.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <inheritdoc/>
    public int Width { get; }

    /// <inheritdoc/>
    public int Height { get; }

    /// <summary>Rate to report for the sequence (a folder has none of its own); default 30.</summary>
    public double FramesPerSecond { get; init; } = 30;

    /// <inheritdoc/>
    public int? FrameCount => Files.Count;

    /// <inheritdoc/>
    public int FramesRead => _next;

    /// <summary>The file the last <see cref="TryReadFrame"/> returned, or null.</summary>
    public string? CurrentFile => _next == 0 ? null : Files[_next - 1];

    /// <inheritdoc/>
    public bool TryReadFrame(RgbImage destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (_next >= Files.Count)
        {
            return false;
        }
        var file = Files[_next];
        DecodeFile(file, destination);
        if (destination.Width != Width || destination.Height != Height)
        {
            throw new VideoIOException($"frame '{file}' is {destination.Width}x{destination.Height}, but the first frame is {Width}x{Height}");
        }
        _next++;
        return true;
    }

    /// <summary>Releases the decoders.</summary>
    public void Dispose() => _decoder.Dispose();

    /// <summary>Compares names with digit runs by numeric value, the rest ordinally.</summary>
    internal static int NaturalCompare(string a, string b)
    {
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            if (char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[j]))
            {
                int si = i, sj = j;
                while (i < a.Length && char.IsAsciiDigit(a[i])) i++;
                while (j < b.Length && char.IsAsciiDigit(b[j])) j++;
                var da = a.AsSpan(si, i - si).TrimStart('0');
                var db = b.AsSpan(sj, j - sj).TrimStart('0');
                var c = da.Length != db.Length ? da.Length.CompareTo(db.Length) : da.SequenceCompareTo(db);
                if (c != 0)
                {
                    return c;
                }
            }
            else
            {
                var c = a[i].CompareTo(b[j]);
                if (c != 0)
                {
                    return c;
                }
                i++;
                j++;
            }
        }
        var rest = (a.Length - i).CompareTo(b.Length - j);
        return rest != 0 ? rest : string.CompareOrdinal(a, b);
    }

    private void DecodeFile(string file, RgbImage destination)
    {
        int length;
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1))
        {
            var size = stream.Length;
            if (size > Array.MaxLength)
            {
                throw new VideoIOException($"frame '{file}' is too large ({size} bytes)");
            }
            if (_fileBuffer.Length < size)
            {
                _fileBuffer = new byte[size];
            }
            length = stream.ReadAtLeast(_fileBuffer.AsSpan(0, (int)size), (int)size, throwOnEndOfStream: false);
        }
        try
        {
            _decoder.Decode(_fileBuffer.AsSpan(0, length), PixelFormat.Encoded, destination);
        }
        catch (ImageDecodeException e)
        {
            throw new ImageDecodeException(e.Error, e.Format, $"frame '{file}': {e.Message}", e);
        }
    }
}
