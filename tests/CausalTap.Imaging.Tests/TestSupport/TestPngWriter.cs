using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace CausalTap.Imaging.Tests.TestSupport;

/// <summary>
/// A tiny PNG writer for tests that need control the reference encoders do not give: the row filter of every
/// row (to exercise all five filter types) and raw chunk edits. Its output is checked against PIL too.
/// </summary>
public static class TestPngWriter
{
    /// <summary>8-bit RGB (colour type 2) or grey (colour type 0, <paramref name="channels"/> = 1); row y uses filter filterOf(y).</summary>
    public static byte[] Write(byte[] pixels, int w, int h, int channels, Func<int, int> filterOf)
    {
        var rowBytes = w * channels;
        var raw = new MemoryStream();
        var prev = new byte[rowBytes];
        for (var y = 0; y < h; y++)
        {
            var row = pixels.AsSpan(y * rowBytes, rowBytes);
            var f = filterOf(y);
            raw.WriteByte((byte)f);
            for (var i = 0; i < rowBytes; i++)
            {
                int a = i >= channels ? row[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
                var predictor = f switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) >> 1,
                    _ => Paeth(a, b, c),
                };
                raw.WriteByte((byte)(row[i] - predictor));
            }
            row.CopyTo(prev);
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(raw.ToArray());
        }
        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)w);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)h);
        ihdr[8] = 8;
        ihdr[9] = (byte)(channels == 3 ? 2 : 0);
        WriteChunk(png, "IHDR", ihdr);
        // Split the data over two IDAT chunks: decoders must concatenate them.
        var data = compressed.ToArray();
        WriteChunk(png, "IDAT", data.AsSpan(0, data.Length / 2));
        WriteChunk(png, "IDAT", data.AsSpan(data.Length / 2));
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>Offset of the first chunk named <paramref name="type"/> (its length field).</summary>
    public static int FindChunk(byte[] png, string type)
    {
        var pos = 8;
        while (pos + 8 <= png.Length)
        {
            var len = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
            if (System.Text.Encoding.ASCII.GetString(png, pos + 4, 4) == type)
            {
                return pos;
            }
            pos += 12 + len;
        }
        throw new InvalidOperationException($"no {type} chunk");
    }

    /// <summary>Recomputes the CRC of the chunk at <paramref name="pos"/> after an edit.</summary>
    public static void FixCrc(byte[] png, int pos)
    {
        var len = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(pos + 8 + len), Crc32.HashToUInt32(png.AsSpan(pos + 4, 4 + len)));
    }

    private static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        var buf = new byte[12 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(buf, (uint)data.Length);
        System.Text.Encoding.ASCII.GetBytes(type, buf.AsSpan(4));
        data.CopyTo(buf.AsSpan(8));
        BinaryPrimitives.WriteUInt32BigEndian(buf.AsSpan(8 + data.Length), Crc32.HashToUInt32(buf.AsSpan(4, 4 + data.Length)));
        s.Write(buf);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
