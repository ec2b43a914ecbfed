using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using CausalTap.Imaging.Png;

namespace CausalTap.Imaging;

/// <summary>
/// Decodes PNG files to RGB8, on <see cref="ZLibStream"/> (no native PNG library).
/// <para>
/// Supported: all five colour types (grey, RGB, palette, grey+alpha, RGBA) at every bit depth the PNG spec
/// allows (1/2/4/8/16), all five row filters. Alpha and tRNS are dropped (the tracker sees colour only);
/// 16-bit samples keep their high byte; low-bit grey is scaled to 0..255 (value * 255 / (2^depth - 1)).
/// Not supported: Adam7 interlacing (a clear <see cref="ImageDecodeError.Unsupported"/> error). Chunk CRCs are
/// checked unless <see cref="VerifyCrc"/> is off.
/// </para>
/// <para>
/// Reuse one decoder per stream: scanline and IDAT buffers are kept between frames. Each frame still allocates
/// a <see cref="ZLibStream"/> (the BCL has no way to reset an inflater), so PNG input is a few hundred bytes of
/// garbage per frame; JPEG and raw input allocate nothing. Not thread-safe.
/// </para>
/// </summary>
public sealed class PngDecoder : IDisposable
{
    private readonly ByteBufferStream _idatStream = new();
    private readonly byte[] _palette = new byte[256 * 3];
    private byte[] _idat = [];
    private byte[] _rowA = [];
    private byte[] _rowB = [];

    /// <summary>Check each chunk's CRC-32 (default true; costs roughly one pass over the file).</summary>
    public bool VerifyCrc { get; init; } = true;

    /// <summary>Largest width or height accepted.</summary>
    public int MaxDimension { get; init; } = 16384;

    /// <summary>Decodes <paramref name="png"/> into <paramref name="destination"/> (resized to the PNG's size).</summary>
    /// <exception cref="ImageDecodeException">corrupt, truncated or unsupported data.</exception>
    public void Decode(ReadOnlySpan<byte> png, RgbImage destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var header = default(Header);
        var paletteEntries = 0;
        var idatLength = 0;
        var sawHeader = false;
        var sawEnd = false;

        if (png.Length < 8 || !png[..8].SequenceEqual(ImageSniffer.PngSignature))
        {
            throw Error(png.Length < 8 && ImageSniffer.PngSignature.StartsWith(png) ? ImageDecodeError.Truncated : ImageDecodeError.Corrupt,
                $"not a PNG: data ({png.Length} bytes) does not start with the 8-byte PNG signature");
        }

        var pos = 8;
        while (!sawEnd)
        {
            if (pos + 8 > png.Length)
            {
                throw Error(ImageDecodeError.Truncated, $"PNG data is truncated: it ends at byte {png.Length} before the IEND chunk");
            }
            var length = BinaryPrimitives.ReadUInt32BigEndian(png[pos..]);
            var typeBytes = png.Slice(pos + 4, 4);
            var type = ChunkName(typeBytes);
            if (length > int.MaxValue || pos + 12L + length > png.Length)
            {
                throw Error(length > int.MaxValue ? ImageDecodeError.Corrupt : ImageDecodeError.Truncated,
                    $"PNG data is truncated: chunk '{type}' at byte {pos} declares {length} bytes but only {Math.Max(0, png.Length - pos - 12)} remain");
            }
            var data = png.Slice(pos + 8, (int)length);
            if (VerifyCrc)
            {
                var stored = BinaryPrimitives.ReadUInt32BigEndian(png[(pos + 8 + (int)length)..]);
                var actual = PngCrc32.Compute(png.Slice(pos + 4, 4 + (int)length));
                if (stored != actual)
                {
                    throw Error(ImageDecodeError.Corrupt, $"PNG chunk '{type}' at byte {pos} has a bad CRC (stored {stored:X8}, computed {actual:X8}): the file is corrupt");
                }
            }
            if (!sawHeader && type != "IHDR")
            {
                throw Error(ImageDecodeError.Corrupt, $"PNG's first chunk is '{type}', expected IHDR");
            }

            switch (type)
            {
                case "IHDR":
                    header = ParseHeader(data);
                    sawHeader = true;
                    break;
                case "PLTE":
                    if (length % 3 != 0 || length == 0 || length > 768)
                    {
                        throw Error(ImageDecodeError.Corrupt, $"PNG palette chunk has {length} bytes (must be a multiple of 3, at most 768)");
                    }
                    data.CopyTo(_palette);
                    paletteEntries = (int)length / 3;
                    break;
                case "IDAT":
                    EnsureCapacity(ref _idat, idatLength + (int)length);
                    data.CopyTo(_idat.AsSpan(idatLength));
                    idatLength += (int)length;
                    break;
                case "IEND":
                    sawEnd = true;
                    break;
                default:
                    // Bit 5 of the first letter clear = critical chunk: the spec says a decoder must not ignore it.
                    if ((typeBytes[0] & 0x20) == 0)
                    {
                        throw Error(ImageDecodeError.Unsupported, $"PNG has an unknown critical chunk '{type}'");
                    }
                    break;
            }
            pos += 12 + (int)length;
        }

        if (idatLength == 0)
        {
            throw Error(ImageDecodeError.Corrupt, "PNG has no IDAT (image data) chunk");
        }
        if (header.ColorType == 3 && paletteEntries == 0)
        {
            throw Error(ImageDecodeError.Corrupt, "palette PNG has no PLTE chunk");
        }
        destination.Resize(header.Width, header.Height);
        Inflate(header, idatLength, paletteEntries, destination);
    }

    /// <summary>Returns pooled buffers.</summary>
    public void Dispose()
    {
        Return(ref _idat);
        Return(ref _rowA);
        Return(ref _rowB);
    }

    private void Inflate(in Header h, int idatLength, int paletteEntries, RgbImage destination)
    {
        var channels = h.ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        var bitsPerPixel = channels * h.BitDepth;
        var rowBytes = (int)(((long)h.Width * bitsPerPixel + 7) / 8);
        var filterStride = Math.Max(1, bitsPerPixel / 8); // "bpp" of the filter definitions, in bytes
        EnsureCapacity(ref _rowA, rowBytes + 1);
        EnsureCapacity(ref _rowB, rowBytes + 1);
        var prev = _rowA.AsSpan(0, rowBytes + 1);
        var cur = _rowB.AsSpan(0, rowBytes + 1);
        prev.Clear(); // the row above the first row is all zeros

        _idatStream.Reset(_idat, idatLength);
        using var z = new ZLibStream(_idatStream, CompressionMode.Decompress, leaveOpen: true);
        for (var y = 0; y < h.Height; y++)
        {
            int got;
            try
            {
                got = z.ReadAtLeast(cur, cur.Length, throwOnEndOfStream: false);
            }
            catch (InvalidDataException e)
            {
                throw Error(ImageDecodeError.Corrupt, $"PNG image data is corrupt (zlib: {e.Message}) at row {y} of {h.Height}", e);
            }
            if (got < cur.Length)
            {
                throw Error(ImageDecodeError.Truncated, $"PNG image data is truncated: it ends in row {y} of {h.Height}");
            }
            var filter = cur[0];
            var line = cur[1..];
            Unfilter(filter, line, prev[1..], filterStride, y);
            WriteRgb(h, line, destination.Row(y), paletteEntries, y);
            var t = prev;
            prev = cur;
            cur = t;
        }
    }

    private static void Unfilter(byte filter, Span<byte> line, ReadOnlySpan<byte> above, int bpp, int y)
    {
        switch (filter)
        {
            case 0:
                return;
            case 1: // Sub: left neighbour
                for (var i = bpp; i < line.Length; i++)
                {
                    line[i] += line[i - bpp];
                }
                return;
            case 2: // Up: independent per byte, so vectorise
            {
                var i = 0;
                if (Vector.IsHardwareAccelerated)
                {
                    for (; i + Vector<byte>.Count <= line.Length; i += Vector<byte>.Count)
                    {
                        (new Vector<byte>(line[i..]) + new Vector<byte>(above[i..])).CopyTo(line[i..]);
                    }
                }
                for (; i < line.Length; i++)
                {
                    line[i] += above[i];
                }
                return;
            }
            case 3: // Average of left and up (left is 0 for the first pixel)
                for (var i = 0; i < bpp && i < line.Length; i++)
                {
                    line[i] += (byte)(above[i] >> 1);
                }
                for (var i = bpp; i < line.Length; i++)
                {
                    line[i] += (byte)((line[i - bpp] + above[i]) >> 1);
                }
                return;
            case 4: // Paeth predictor
                for (var i = 0; i < bpp && i < line.Length; i++)
                {
                    line[i] += above[i]; // a = c = 0, so Paeth picks b
                }
                for (var i = bpp; i < line.Length; i++)
                {
                    int a = line[i - bpp], b = above[i], c = above[i - bpp];
                    var p = a + b - c;
                    int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                    line[i] += (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
                }
                return;
            default:
                throw Error(ImageDecodeError.Corrupt, $"PNG row {y} has filter type {filter} (valid: 0-4): the image data is corrupt");
        }
    }

    private void WriteRgb(in Header h, ReadOnlySpan<byte> line, Span<byte> rgb, int paletteEntries, int y)
    {
        var w = h.Width;
        switch (h.ColorType, h.BitDepth)
        {
            case (2, 8):
                line[..(w * 3)].CopyTo(rgb);
                return;
            case (6, 8):
                for (int x = 0, s = 0, d = 0; x < w; x++, s += 4, d += 3)
                {
                    rgb[d] = line[s];
                    rgb[d + 1] = line[s + 1];
                    rgb[d + 2] = line[s + 2];
                }
                return;
            case (2, 16):
            case (6, 16):
            {
                var step = h.ColorType == 2 ? 6 : 8; // high byte of each big-endian 16-bit sample
                for (int x = 0, s = 0, d = 0; x < w; x++, s += step, d += 3)
                {
                    rgb[d] = line[s];
                    rgb[d + 1] = line[s + 2];
                    rgb[d + 2] = line[s + 4];
                }
                return;
            }
            case (0, 8):
            case (4, 8):
            case (0, 16):
            case (4, 16):
            {
                var step = (h.ColorType == 0 ? 1 : 2) * (h.BitDepth / 8);
                for (int x = 0, s = 0, d = 0; x < w; x++, s += step, d += 3)
                {
                    rgb[d] = rgb[d + 1] = rgb[d + 2] = line[s];
                }
                return;
            }
            case (3, 8):
                for (int x = 0, d = 0; x < w; x++, d += 3)
                {
                    PaletteLookup(line[x], rgb[d..], paletteEntries, y);
                }
                return;
            default: // 1/2/4-bit grey or palette: samples packed most-significant first
            {
                var depth = h.BitDepth;
                var mask = (1 << depth) - 1;
                for (int x = 0, d = 0; x < w; x++, d += 3)
                {
                    var bit = x * depth;
                    var v = (line[bit >> 3] >> (8 - depth - (bit & 7))) & mask;
                    if (h.ColorType == 3)
                    {
                        PaletteLookup(v, rgb[d..], paletteEntries, y);
                    }
                    else
                    {
                        rgb[d] = rgb[d + 1] = rgb[d + 2] = (byte)(v * 255 / mask);
                    }
                }
                return;
            }
        }
    }

    private void PaletteLookup(int index, Span<byte> rgb, int entries, int y)
    {
        if (index >= entries)
        {
            throw Error(ImageDecodeError.Corrupt, $"PNG row {y} uses palette index {index} but the palette has {entries} entries");
        }
        rgb[0] = _palette[index * 3];
        rgb[1] = _palette[index * 3 + 1];
        rgb[2] = _palette[index * 3 + 2];
    }

    private Header ParseHeader(ReadOnlySpan<byte> d)
    {
        if (d.Length != 13)
        {
            throw Error(ImageDecodeError.Corrupt, $"PNG IHDR chunk has {d.Length} bytes, expected 13");
        }
        var width = BinaryPrimitives.ReadUInt32BigEndian(d);
        var height = BinaryPrimitives.ReadUInt32BigEndian(d[4..]);
        int depth = d[8], colorType = d[9], compression = d[10], filterMethod = d[11], interlace = d[12];
        if (width == 0 || height == 0 || width > MaxDimension || height > MaxDimension)
        {
            throw Error(width == 0 || height == 0 ? ImageDecodeError.Corrupt : ImageDecodeError.Unsupported,
                $"PNG size {width}x{height} is outside the accepted range 1..{MaxDimension}");
        }
        var depthOk = colorType switch
        {
            0 => depth is 1 or 2 or 4 or 8 or 16,
            3 => depth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => depth is 8 or 16,
            _ => throw Error(ImageDecodeError.Corrupt, $"PNG colour type {colorType} is not defined (valid: 0, 2, 3, 4, 6)"),
        };
        if (!depthOk)
        {
            throw Error(ImageDecodeError.Corrupt, $"PNG bit depth {depth} is not allowed for colour type {colorType}");
        }
        if (compression != 0 || filterMethod != 0)
        {
            throw Error(ImageDecodeError.Corrupt, $"PNG compression method {compression} / filter method {filterMethod} is not defined (both must be 0)");
        }
        if (interlace == 1)
        {
            throw Error(ImageDecodeError.Unsupported, "Adam7-interlaced PNG is not supported; save the frames without interlacing");
        }
        if (interlace != 0)
        {
            throw Error(ImageDecodeError.Corrupt, $"PNG interlace method {interlace} is not defined");
        }
        return new Header((int)width, (int)height, depth, colorType);
    }

    private static string ChunkName(ReadOnlySpan<byte> t)
    {
        // Chunk names are four ASCII letters; show anything else as hex so the message stays readable.
        foreach (var b in t)
        {
            if (!char.IsAsciiLetter((char)b))
            {
                return Convert.ToHexString(t);
            }
        }
        return string.Create(4, (t[0], t[1], t[2], t[3]), static (s, v) =>
        {
            s[0] = (char)v.Item1;
            s[1] = (char)v.Item2;
            s[2] = (char)v.Item3;
            s[3] = (char)v.Item4;
        });
    }

    private static void EnsureCapacity(ref byte[] buffer, int needed)
    {
        if (buffer.Length >= needed)
        {
            return;
        }
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, buffer.Length * 2));
        buffer.CopyTo(bigger, 0);
        Return(ref buffer);
        buffer = bigger;
    }

    private static void Return(ref byte[] buffer)
    {
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        buffer = [];
    }

    private static ImageDecodeException Error(ImageDecodeError kind, string message, Exception? inner = null) =>
        new(kind, PixelFormat.Png, message, inner);

    private readonly record struct Header(int Width, int Height, int BitDepth, int ColorType);
}
