using System.Globalization;

namespace CausalTap.Tracking.Evaluation;

/// <summary>Element kinds of the NumPy dtypes this reader/writer understands.</summary>
public enum NpyElementKind
{
    /// <summary><c>|b1</c>: numpy bool, one byte holding 0 or 1.</summary>
    Bool,
    /// <summary><c>|u1</c>.</summary>
    UInt8,
    /// <summary><c>|i1</c>.</summary>
    Int8,
    /// <summary><c>u2</c>.</summary>
    UInt16,
    /// <summary><c>i2</c>.</summary>
    Int16,
    /// <summary><c>u4</c>.</summary>
    UInt32,
    /// <summary><c>i4</c>.</summary>
    Int32,
    /// <summary><c>u8</c>.</summary>
    UInt64,
    /// <summary><c>i8</c>.</summary>
    Int64,
    /// <summary><c>f2</c> (IEEE half).</summary>
    Float16,
    /// <summary><c>f4</c>.</summary>
    Float32,
    /// <summary><c>f8</c>.</summary>
    Float64,
    /// <summary><c>U&lt;n&gt;</c>: fixed-length UTF-32 string of n code points (numpy <c>str_</c>).</summary>
    Unicode,
    /// <summary><c>S&lt;n&gt;</c>: fixed-length byte string (numpy <c>bytes_</c>).</summary>
    Bytes,
}

/// <summary>
/// A NumPy dtype as written in a .npy header's <c>descr</c> field (e.g. <c>'&lt;f4'</c>, <c>'|u1'</c>,
/// <c>'|b1'</c>, <c>'&lt;i8'</c>, <c>'&lt;U5'</c>). Only simple (non-structured) dtypes are supported.
/// In memory, <see cref="NpyArray"/> always holds little-endian data; <see cref="BigEndian"/> only records
/// what a file said (big-endian files are byte-swapped on read).
/// </summary>
public readonly record struct NpyDType(NpyElementKind Kind, int ItemSize, bool BigEndian = false)
{
    /// <summary>float32, little-endian.</summary>
    public static NpyDType Float32 => new(NpyElementKind.Float32, 4);
    /// <summary>float64, little-endian.</summary>
    public static NpyDType Float64 => new(NpyElementKind.Float64, 8);
    /// <summary>uint8.</summary>
    public static NpyDType UInt8 => new(NpyElementKind.UInt8, 1);
    /// <summary>bool.</summary>
    public static NpyDType Bool => new(NpyElementKind.Bool, 1);
    /// <summary>int32, little-endian.</summary>
    public static NpyDType Int32 => new(NpyElementKind.Int32, 4);
    /// <summary>int64, little-endian.</summary>
    public static NpyDType Int64 => new(NpyElementKind.Int64, 8);
    /// <summary>Fixed-length unicode string of <paramref name="chars"/> code points.</summary>
    public static NpyDType Unicode(int chars) => new(NpyElementKind.Unicode, 4 * Math.Max(chars, 1));

    /// <summary>Size in bytes of the unit that byte order applies to (1 for bool/uint8/bytes, 4 for unicode).</summary>
    public int SwapUnit => Kind switch
    {
        NpyElementKind.Unicode => 4,
        NpyElementKind.Bytes => 1,
        _ => ItemSize,
    };

    /// <summary>The numpy name of this dtype, e.g. <c>float32</c>, <c>bool</c>, <c>&lt;U5</c>.</summary>
    public string Name => Kind switch
    {
        NpyElementKind.Bool => "bool",
        NpyElementKind.UInt8 => "uint8",
        NpyElementKind.Int8 => "int8",
        NpyElementKind.UInt16 => "uint16",
        NpyElementKind.Int16 => "int16",
        NpyElementKind.UInt32 => "uint32",
        NpyElementKind.Int32 => "int32",
        NpyElementKind.UInt64 => "uint64",
        NpyElementKind.Int64 => "int64",
        NpyElementKind.Float16 => "float16",
        NpyElementKind.Float32 => "float32",
        NpyElementKind.Float64 => "float64",
        NpyElementKind.Unicode => "str" + (ItemSize / 4).ToString(CultureInfo.InvariantCulture) + " (<U" + (ItemSize / 4).ToString(CultureInfo.InvariantCulture) + ")",
        NpyElementKind.Bytes => "bytes" + ItemSize.ToString(CultureInfo.InvariantCulture) + " (|S" + ItemSize.ToString(CultureInfo.InvariantCulture) + ")",
        _ => Kind.ToString(),
    };

    /// <summary>The header <c>descr</c> string numpy writes for this dtype (always little-endian or '|').</summary>
    public string Descr
    {
        get
        {
            char order = SwapUnit == 1 ? '|' : '<';
            return Kind switch
            {
                NpyElementKind.Bool => "|b1",
                NpyElementKind.Unicode => "<U" + (ItemSize / 4).ToString(CultureInfo.InvariantCulture),
                NpyElementKind.Bytes => "|S" + ItemSize.ToString(CultureInfo.InvariantCulture),
                _ => string.Concat(order.ToString(), KindCode(Kind).ToString(), ItemSize.ToString(CultureInfo.InvariantCulture)),
            };
        }
    }

    private static char KindCode(NpyElementKind kind) => kind switch
    {
        NpyElementKind.UInt8 or NpyElementKind.UInt16 or NpyElementKind.UInt32 or NpyElementKind.UInt64 => 'u',
        NpyElementKind.Int8 or NpyElementKind.Int16 or NpyElementKind.Int32 or NpyElementKind.Int64 => 'i',
        NpyElementKind.Float16 or NpyElementKind.Float32 or NpyElementKind.Float64 => 'f',
        _ => throw new InvalidOperationException("no kind code for " + kind),
    };

    /// <summary>
    /// Parses a numpy <c>descr</c> string: byte order ('&lt;', '&gt;', '|', '=') then kind ('b','u','i','f','U','S')
    /// then size. Throws <see cref="NpyFormatException"/> for anything else (structured dtypes, complex,
    /// datetimes, objects).
    /// </summary>
    public static NpyDType Parse(string descr)
    {
        ArgumentNullException.ThrowIfNull(descr);
        if (descr.Length < 2)
            throw new NpyFormatException($"unsupported dtype descr '{descr}'");
        int i = 0;
        bool big = false;
        char order = descr[0];
        if (order is '<' or '>' or '|' or '=')
        {
            big = order == '>';
            i = 1;
        }
        if (i >= descr.Length)
            throw new NpyFormatException($"unsupported dtype descr '{descr}'");
        char code = descr[i];
        string sizeText = descr[(i + 1)..];
        if (!int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out int size) || size < 0)
            throw new NpyFormatException($"unsupported dtype descr '{descr}' (size '{sizeText}' is not a number)");
        NpyElementKind? kind = (code, size) switch
        {
            ('b', 1) => NpyElementKind.Bool,
            ('u', 1) => NpyElementKind.UInt8,
            ('i', 1) => NpyElementKind.Int8,
            ('u', 2) => NpyElementKind.UInt16,
            ('i', 2) => NpyElementKind.Int16,
            ('u', 4) => NpyElementKind.UInt32,
            ('i', 4) => NpyElementKind.Int32,
            ('u', 8) => NpyElementKind.UInt64,
            ('i', 8) => NpyElementKind.Int64,
            ('f', 2) => NpyElementKind.Float16,
            ('f', 4) => NpyElementKind.Float32,
            ('f', 8) => NpyElementKind.Float64,
            ('U', _) => NpyElementKind.Unicode,
            ('S', _) => NpyElementKind.Bytes,
            _ => null,
        };
        if (kind is null)
            throw new NpyFormatException(
                $"unsupported dtype descr '{descr}': supported are bool (|b1), (u)int8/16/32/64, float16/32/64, <U and |S strings");
        int itemSize = kind == NpyElementKind.Unicode ? checked(4 * size) : size;
        // Single-byte types have no byte order; numpy writes '|' for them but accept any marker.
        bool bigEndian = big && (kind == NpyElementKind.Unicode ? 4 : kind == NpyElementKind.Bytes ? 1 : itemSize) > 1;
        return new NpyDType(kind.Value, itemSize, bigEndian);
    }

    /// <summary>The dtype stripped of the byte-order flag (what the in-memory data uses).</summary>
    public NpyDType Native => this with { BigEndian = false };

    /// <inheritdoc/>
    public override string ToString() => Name;
}
