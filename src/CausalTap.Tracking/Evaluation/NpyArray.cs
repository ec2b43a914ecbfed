using System.Runtime.InteropServices;
using System.Text;

namespace CausalTap.Tracking.Evaluation;

/// <summary>
/// An n-dimensional array as stored in a .npy file: a dtype, a C-order shape, and the elements in a typed
/// .NET array (<c>float[]</c> for float32, <c>byte[]</c> for uint8, <c>bool[]</c> for bool, <c>long[]</c>
/// for int64, <c>double[]</c> for float64, ...; <c>byte[]</c> of raw little-endian code units for strings).
/// The typed accessors (<see cref="Float32"/>, <see cref="UInt8"/>, ...) return that array itself: no copy.
/// Reading fills it straight from the (possibly decompressing) stream, so a [T,H,W,3] video costs exactly
/// one buffer of T·H·W·3 bytes.
/// </summary>
public sealed class NpyArray
{
    private readonly Array _data;
    private readonly int[] _shape;

    private NpyArray(NpyDType dtype, int[] shape, Array data)
    {
        DType = dtype.Native;
        _shape = shape;
        _data = data;
    }

    /// <summary>The element type (always the native little-endian variant).</summary>
    public NpyDType DType { get; }

    /// <summary>The C-order shape; empty for a 0-d (scalar) array.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public int Count => ElementCount(_shape);

    /// <summary>The shape as numpy prints it, e.g. <c>(5, 32, 2)</c>.</summary>
    public string ShapeText => NpyHeader.FormatShape(_shape);

    /// <summary>The raw element bytes (little-endian), a view over the backing array.</summary>
    public Span<byte> Bytes => _data switch
    {
        byte[] a => a,
        sbyte[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        bool[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        short[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        ushort[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        int[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        uint[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        long[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        ulong[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        Half[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        float[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        double[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        _ => throw new InvalidOperationException("unexpected backing array"),
    };

    /// <summary>The float32 elements (no copy). Throws if the dtype is not float32.</summary>
    public float[] Float32 => As<float>(NpyElementKind.Float32);
    /// <summary>The float64 elements (no copy). Throws if the dtype is not float64.</summary>
    public double[] Float64 => As<double>(NpyElementKind.Float64);
    /// <summary>The uint8 elements (no copy). Throws if the dtype is not uint8.</summary>
    public byte[] UInt8 => As<byte>(NpyElementKind.UInt8);
    /// <summary>The bool elements (no copy). Throws if the dtype is not bool.</summary>
    public bool[] Bool => As<bool>(NpyElementKind.Bool);
    /// <summary>The int32 elements (no copy). Throws if the dtype is not int32.</summary>
    public int[] Int32 => As<int>(NpyElementKind.Int32);
    /// <summary>The int64 elements (no copy). Throws if the dtype is not int64.</summary>
    public long[] Int64 => As<long>(NpyElementKind.Int64);

    /// <summary>The backing array as <typeparamref name="T"/>[] (no copy); throws if the element type differs.</summary>
    public T[] Get<T>() where T : unmanaged
    {
        if (_data is T[] typed && DType.Kind is not (NpyElementKind.Unicode or NpyElementKind.Bytes))
            return typed;
        throw new InvalidOperationException($"array has dtype {DType.Name}, not {typeof(T).Name}");
    }

    private T[] As<T>(NpyElementKind kind) where T : unmanaged =>
        DType.Kind == kind ? (T[])_data : throw new InvalidOperationException($"array has dtype {DType.Name}, not {kind.ToString().ToLowerInvariant()}");

    /// <summary>Copies the elements of any real numeric or bool dtype into a new double[].</summary>
    public double[] ToFloat64Array()
    {
        int n = Count;
        var result = new double[n];
        switch (_data)
        {
            case double[] a: a.CopyTo(result, 0); break;
            case float[] a: for (int i = 0; i < n; i++) result[i] = a[i]; break;
            case Half[] a: for (int i = 0; i < n; i++) result[i] = (double)a[i]; break;
            case byte[] a when DType.Kind == NpyElementKind.UInt8: for (int i = 0; i < n; i++) result[i] = a[i]; break;
            case sbyte[] a: for (int i = 0; i < n; i++) result[i] = a[i]; break;
            case bool[] a: for (int i = 0; i < n; i++) result[i] = a[i] ? 1 : 0; break;
            case short[] a: for (int i = 0; i < n; i++) result[i] = a[i]; break;
            case ushort[] a: for (int i = 0; i < n; i++) result[i] = a[i]; break;
            case int[] a: for (int i = 0; i < n; i++) result[i] = a[i]; break;
            case uint[] a: for (int i = 0; i < n; i++) result[i] = a[i]; break;
            case long[] a: for (int i = 0; i < n; i++) result[i] = a[i]; break;
            case ulong[] a: for (int i = 0; i < n; i++) result[i] = a[i]; break;
            default: throw new InvalidOperationException($"dtype {DType.Name} is not numeric");
        }
        return result;
    }

    /// <summary>Copies the elements of any real numeric or bool dtype into a new float[] (rounding float64).</summary>
    public float[] ToFloat32Array()
    {
        if (_data is float[] f) return (float[])f.Clone();
        double[] d = ToFloat64Array();
        var result = new float[d.Length];
        for (int i = 0; i < d.Length; i++) result[i] = (float)d[i];
        return result;
    }

    /// <summary>The strings of a <c>U</c> or <c>S</c> array in C order (numpy strips trailing NULs).</summary>
    public string[] GetStrings()
    {
        if (DType.Kind is not (NpyElementKind.Unicode or NpyElementKind.Bytes))
            throw new InvalidOperationException($"array has dtype {DType.Name}, not a string dtype");
        var raw = (byte[])_data;
        int n = Count;
        var result = new string[n];
        int size = DType.ItemSize;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<byte> item = raw.AsSpan(i * size, size);
            string s = DType.Kind == NpyElementKind.Unicode ? Encoding.UTF32.GetString(item) : Encoding.Latin1.GetString(item);
            result[i] = s.TrimEnd('\0');
        }
        return result;
    }

    /// <summary>The single string of a 0-d (or one-element) string array.</summary>
    public string GetString()
    {
        string[] all = GetStrings();
        if (all.Length != 1)
            throw new InvalidOperationException($"expected one string, the array has shape {ShapeText}");
        return all[0];
    }

    /// <summary>Wraps <paramref name="data"/> (not copied) as an array of the given shape; dtype from <typeparamref name="T"/>.</summary>
    public static NpyArray Create<T>(T[] data, params int[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        NpyDType dtype = DTypeOf<T>();
        int[] s = (int[])shape.Clone();
        CheckShape(s);
        if (ElementCount(s) != data.Length)
            throw new ArgumentException($"shape {NpyHeader.FormatShape(s)} needs {ElementCount(s)} elements, got {data.Length}");
        return new NpyArray(dtype, s, data);
    }

    /// <summary>A 0-d numpy <c>str_</c> array (dtype <c>&lt;U{n}</c>) holding <paramref name="value"/>.</summary>
    public static NpyArray FromString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        byte[] utf32 = Encoding.UTF32.GetBytes(value);
        if (utf32.Length == 0) utf32 = new byte[4];
        return new NpyArray(new NpyDType(NpyElementKind.Unicode, utf32.Length), [], utf32);
    }

    /// <summary>A zero-filled array of the given dtype and shape.</summary>
    public static NpyArray Zeros(NpyDType dtype, params int[] shape)
    {
        int[] s = (int[])shape.Clone();
        CheckShape(s);
        return new NpyArray(dtype, s, Allocate(dtype, ElementCount(s)));
    }

    /// <summary>The dtype numpy uses for the .NET element type <typeparamref name="T"/>.</summary>
    public static NpyDType DTypeOf<T>() where T : unmanaged
    {
        Type t = typeof(T);
        if (t == typeof(float)) return new(NpyElementKind.Float32, 4);
        if (t == typeof(double)) return new(NpyElementKind.Float64, 8);
        if (t == typeof(byte)) return new(NpyElementKind.UInt8, 1);
        if (t == typeof(bool)) return new(NpyElementKind.Bool, 1);
        if (t == typeof(sbyte)) return new(NpyElementKind.Int8, 1);
        if (t == typeof(short)) return new(NpyElementKind.Int16, 2);
        if (t == typeof(ushort)) return new(NpyElementKind.UInt16, 2);
        if (t == typeof(int)) return new(NpyElementKind.Int32, 4);
        if (t == typeof(uint)) return new(NpyElementKind.UInt32, 4);
        if (t == typeof(long)) return new(NpyElementKind.Int64, 8);
        if (t == typeof(ulong)) return new(NpyElementKind.UInt64, 8);
        if (t == typeof(Half)) return new(NpyElementKind.Float16, 2);
        throw new NotSupportedException($"no numpy dtype for {t.Name}");
    }

    /// <summary>
    /// Reads the data block described by <paramref name="header"/> from <paramref name="stream"/> straight into
    /// a new typed array (one copy, no intermediate buffer). Big-endian data is byte-swapped in place and
    /// bool bytes are normalised to 0/1.
    /// </summary>
    public static NpyArray ReadData(Stream stream, NpyHeader header)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(header);
        if (header.FortranOrder)
            throw new NpyFormatException(
                $"array of shape {header.ShapeText} is stored in Fortran order (fortran_order: True), which is not supported; "
                + "save it with numpy.ascontiguousarray(...) first");
        CheckShape(header.Shape);
        long bytes = header.DataBytes;
        if (bytes > Array.MaxLength)
            throw new NpyFormatException($"array of shape {header.ShapeText} ({bytes} bytes) is too large to load at once");
        var array = new NpyArray(header.DType, (int[])header.Shape.Clone(), Allocate(header.DType, ElementCount(header.Shape)));
        Span<byte> dst = array.Bytes;
        try
        {
            stream.ReadExactly(dst);
        }
        catch (EndOfStreamException e)
        {
            throw new NpyFormatException($"truncated .npy data: array of shape {header.ShapeText} dtype {header.DType.Name} needs {bytes} bytes", e);
        }
        if (header.DType.BigEndian) SwapBytes(dst, header.DType.SwapUnit);
        if (header.DType.Kind == NpyElementKind.Bool)
        {
            foreach (ref byte b in dst)
                b = b != 0 ? (byte)1 : (byte)0;
        }
        return array;
    }

    /// <summary>Reverses the byte order of every <paramref name="unit"/>-byte word in place.</summary>
    public static void SwapBytes(Span<byte> data, int unit)
    {
        if (unit <= 1) return;
        for (int i = 0; i + unit <= data.Length; i += unit)
            data.Slice(i, unit).Reverse();
    }

    /// <summary>Writes the header (v1, or v2 when large) and the data to <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
        new NpyHeader(DType, false, _shape).Write(stream);
        stream.Write(Bytes);
    }

    private static Array Allocate(NpyDType dtype, int count) => dtype.Kind switch
    {
        NpyElementKind.Bool => new bool[count],
        NpyElementKind.UInt8 => new byte[count],
        NpyElementKind.Int8 => new sbyte[count],
        NpyElementKind.UInt16 => new ushort[count],
        NpyElementKind.Int16 => new short[count],
        NpyElementKind.UInt32 => new uint[count],
        NpyElementKind.Int32 => new int[count],
        NpyElementKind.UInt64 => new ulong[count],
        NpyElementKind.Int64 => new long[count],
        NpyElementKind.Float16 => new Half[count],
        NpyElementKind.Float32 => new float[count],
        NpyElementKind.Float64 => new double[count],
        NpyElementKind.Unicode or NpyElementKind.Bytes => new byte[checked(count * dtype.ItemSize)],
        _ => throw new NpyFormatException($"unsupported dtype {dtype.Name}"),
    };

    private static void CheckShape(int[] shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {NpyHeader.FormatShape(shape)}");
            n *= d;
            if (n > Array.MaxLength)
                throw new NpyFormatException($"array of shape {NpyHeader.FormatShape(shape)} has too many elements to load at once");
        }
    }

    private static int ElementCount(int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return checked((int)n);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{DType.Name} {ShapeText}";
}
