using System.Globalization;
using System.Text;

namespace CausalTap.Tracking.Evaluation;

/// <summary>
/// The header of a .npy file (format versions 1.0, 2.0 and 3.0): dtype, memory order and shape.
/// Layout: magic <c>\x93NUMPY</c>, major and minor version bytes, header length (uint16 little-endian in
/// v1, uint32 in v2/v3), then a Python dict literal (latin-1 in v1/v2, UTF-8 in v3) padded with spaces and
/// ended by '\n'. The data follows directly, C order unless <c>fortran_order</c> is True.
/// </summary>
public sealed record NpyHeader(NpyDType DType, bool FortranOrder, int[] Shape, int MajorVersion = 1)
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>numpy pads header + preamble to a multiple of this (ARRAY_ALIGN).</summary>
    private const int Alignment = 64;

    /// <summary>Number of elements (product of the shape; 1 for a 0-d array).</summary>
    public long Count
    {
        get
        {
            long n = 1;
            foreach (int d in Shape) n = checked(n * d);
            return n;
        }
    }

    /// <summary>Size of the data block in bytes.</summary>
    public long DataBytes => checked(Count * DType.ItemSize);

    /// <summary>The shape written as numpy prints it, e.g. <c>(5, 32, 2)</c> or <c>()</c>.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>Formats a shape like a Python tuple: <c>()</c>, <c>(3,)</c>, <c>(2, 3)</c>.</summary>
    public static string FormatShape(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("(");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i].ToString(CultureInfo.InvariantCulture));
        }
        if (shape.Length == 1) sb.Append(',');
        return sb.Append(')').ToString();
    }

    /// <summary>Reads and parses the preamble and header; leaves the stream at the first data byte.</summary>
    public static NpyHeader Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> pre = stackalloc byte[8];
        ReadAll(stream, pre, "preamble");
        if (!pre[..6].SequenceEqual(Magic))
            throw new NpyFormatException("not a .npy file (magic \\x93NUMPY missing)");
        int major = pre[6];
        int minor = pre[7];
        int headerLength;
        if (major == 1)
        {
            Span<byte> len = stackalloc byte[2];
            ReadAll(stream, len, "header length");
            headerLength = len[0] | (len[1] << 8);
        }
        else if (major is 2 or 3)
        {
            Span<byte> len = stackalloc byte[4];
            ReadAll(stream, len, "header length");
            uint l = (uint)(len[0] | (len[1] << 8) | (len[2] << 16) | (len[3] << 24));
            if (l > 16 * 1024 * 1024)
                throw new NpyFormatException($".npy header length {l} is implausibly large");
            headerLength = (int)l;
        }
        else
        {
            throw new NpyFormatException($"unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)");
        }
        var headerBytes = new byte[headerLength];
        ReadAll(stream, headerBytes, "header");
        string text = major == 3 ? Encoding.UTF8.GetString(headerBytes) : Encoding.Latin1.GetString(headerBytes);
        return Parse(text, major);
    }

    /// <summary>Parses the header dict text, e.g. <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 2), }</c>.</summary>
    public static NpyHeader Parse(string text, int majorVersion = 1)
    {
        object? parsed;
        try
        {
            var parser = new LiteralParser(text);
            parsed = parser.ParseValue();
            parser.SkipWhitespace();
            if (!parser.AtEnd)
                throw new NpyFormatException($"trailing characters after the header dict: '{text.Trim()}'");
        }
        catch (NpyFormatException e) when (!e.Message.StartsWith("malformed", StringComparison.Ordinal))
        {
            throw new NpyFormatException("malformed .npy header: " + e.Message, e);
        }
        if (parsed is not Dictionary<string, object?> dict)
            throw new NpyFormatException($"malformed .npy header: expected a dict, got '{text.Trim()}'");
        foreach (string key in new[] { "descr", "fortran_order", "shape" })
            if (!dict.ContainsKey(key))
                throw new NpyFormatException($"malformed .npy header: key '{key}' missing in '{text.Trim()}'");
        if (dict.Count != 3)
            throw new NpyFormatException($"malformed .npy header: unexpected keys in '{text.Trim()}'");

        NpyDType dtype = dict["descr"] switch
        {
            string s => NpyDType.Parse(s),
            List<object?> => throw new NpyFormatException("structured (record) dtypes are not supported"),
            var other => throw new NpyFormatException($"malformed .npy header: descr is {other ?? "None"}"),
        };
        if (dict["fortran_order"] is not bool fortran)
            throw new NpyFormatException("malformed .npy header: fortran_order is not True/False");
        if (dict["shape"] is not List<object?> dims)
            throw new NpyFormatException("malformed .npy header: shape is not a tuple");
        var shape = new int[dims.Count];
        for (int i = 0; i < dims.Count; i++)
        {
            if (dims[i] is not long d || d < 0)
                throw new NpyFormatException($"malformed .npy header: shape entry {dims[i]} is not a non-negative integer");
            if (d > int.MaxValue)
                throw new NpyFormatException($"array dimension {d} is too large");
            shape[i] = (int)d;
        }
        return new NpyHeader(dtype, fortran, shape, majorVersion);
    }

    /// <summary>Writes preamble + header (v1.0, or v2.0 if the header does not fit in 64 KiB), 64-byte aligned as numpy does.</summary>
    public void Write(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        string dict = "{'descr': '" + DType.Descr + "', 'fortran_order': " + (FortranOrder ? "True" : "False")
                      + ", 'shape': " + ShapeText + ", }";
        byte[] dictBytes = Encoding.Latin1.GetBytes(dict);
        int version = 1;
        int preamble = 10;
        int total = Pad(preamble + dictBytes.Length + 1);
        if (total - preamble > ushort.MaxValue)
        {
            version = 2;
            preamble = 12;
            total = Pad(preamble + dictBytes.Length + 1);
        }
        int headerLength = total - preamble;
        var buf = new byte[total];
        Magic.CopyTo(buf);
        buf[6] = (byte)version;
        buf[7] = 0;
        if (version == 1)
        {
            buf[8] = (byte)headerLength;
            buf[9] = (byte)(headerLength >> 8);
        }
        else
        {
            for (int i = 0; i < 4; i++) buf[8 + i] = (byte)(headerLength >> (8 * i));
        }
        dictBytes.CopyTo(buf, preamble);
        for (int i = preamble + dictBytes.Length; i < total - 1; i++) buf[i] = (byte)' ';
        buf[total - 1] = (byte)'\n';
        stream.Write(buf);
    }

    private static int Pad(int n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void ReadAll(Stream stream, Span<byte> buffer, string what)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException e)
        {
            throw new NpyFormatException($"truncated .npy file (end of data inside the {what})", e);
        }
    }

    /// <summary>A tiny parser for the Python literals numpy writes in headers: dicts, tuples/lists, strings, ints, True/False/None.</summary>
    private sealed class LiteralParser(string text)
    {
        private int _pos;

        public bool AtEnd => _pos >= text.Length;

        public void SkipWhitespace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        public object? ParseValue()
        {
            SkipWhitespace();
            if (AtEnd) throw new NpyFormatException("unexpected end of header");
            char c = text[_pos];
            switch (c)
            {
                case '{': return ParseDict();
                case '(': return ParseSequence(')');
                case '[': return ParseSequence(']');
                case '\'' or '"': return ParseString();
            }
            if (c == '-' || char.IsAsciiDigit(c)) return ParseInt();
            if (Match("True")) return true;
            if (Match("False")) return false;
            if (Match("None")) return null;
            throw new NpyFormatException($"unexpected '{c}' at offset {_pos} in '{text.Trim()}'");
        }

        private bool Match(string word)
        {
            if (string.CompareOrdinal(text, _pos, word, 0, word.Length) != 0) return false;
            _pos += word.Length;
            return true;
        }

        private void Expect(char c)
        {
            SkipWhitespace();
            if (AtEnd || text[_pos] != c)
                throw new NpyFormatException($"expected '{c}' at offset {_pos} in '{text.Trim()}'");
            _pos++;
        }

        private bool TryConsume(char c)
        {
            SkipWhitespace();
            if (!AtEnd && text[_pos] == c)
            {
                _pos++;
                return true;
            }
            return false;
        }

        private Dictionary<string, object?> ParseDict()
        {
            Expect('{');
            var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
            while (!TryConsume('}'))
            {
                if (ParseValue() is not string key)
                    throw new NpyFormatException("dict key is not a string");
                Expect(':');
                dict[key] = ParseValue();
                if (!TryConsume(','))
                {
                    Expect('}');
                    break;
                }
            }
            return dict;
        }

        private List<object?> ParseSequence(char close)
        {
            _pos++;
            var items = new List<object?>();
            while (!TryConsume(close))
            {
                items.Add(ParseValue());
                if (!TryConsume(','))
                {
                    Expect(close);
                    break;
                }
            }
            return items;
        }

        private string ParseString()
        {
            char quote = text[_pos++];
            var sb = new StringBuilder();
            while (true)
            {
                if (AtEnd) throw new NpyFormatException("unterminated string in header");
                char c = text[_pos++];
                if (c == quote) return sb.ToString();
                if (c == '\\' && !AtEnd) c = text[_pos++];
                sb.Append(c);
            }
        }

        private long ParseInt()
        {
            int start = _pos;
            if (text[_pos] == '-') _pos++;
            while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
            string digits = text[start.._pos];
            // Python 2 era files write longs as e.g. 3L.
            if (_pos < text.Length && (text[_pos] == 'L' || text[_pos] == 'l')) _pos++;
            if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
                throw new NpyFormatException($"bad integer '{digits}' in header");
            return v;
        }
    }
}
