using System.Buffers;
using System.Runtime.InteropServices;
using CausalTap.Onnx.Native;

namespace CausalTap.Onnx;

/// <summary>Element type, shape (-1 for unknown dims) and element count of a tensor.</summary>
/// <param name="ElementType">Element type.</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="ElementCount">Product of the dimensions (-1 when any is unknown).</param>
public sealed record TensorTypeAndShape(TensorElementType ElementType, long[] Shape, long ElementCount);

/// <summary>
/// An owned <c>OrtValue</c>. Tensors built over managed memory keep the <see cref="MemoryHandle"/> that pins the
/// memory and unpin it only after ORT has released the value; tensors ORT allocates (run outputs,
/// <see cref="CreateAllocatedTensorValue"/>) are readable in place as spans.
/// </summary>
public sealed unsafe class OrtValue : SafeHandle
{
    private MemoryHandle _pin;
    private readonly bool _pinned;

    private OrtValue(IntPtr value, MemoryHandle pin, bool pinned) : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(value);
        _pin = pin;
        _pinned = pinned;
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Takes ownership of a native value that ORT created.</summary>
    internal static OrtValue FromNative(IntPtr value) => new(value, default, pinned: false);

    /// <summary>
    /// Wraps <paramref name="data"/> as a tensor of <paramref name="shape"/> without copying. The memory stays
    /// pinned until the value is disposed; writes to <paramref name="data"/> are seen by the next run.
    /// </summary>
    public static OrtValue CreateTensorValueFromMemory<T>(Memory<T> data, ReadOnlySpan<long> shape) where T : unmanaged
    {
        var type = TensorElementTypes.Of<T>();
        var count = ElementCount(shape);
        if (count != data.Length)
        {
            throw new ArgumentException(
                $"Shape [{string.Join(", ", shape.ToArray())}] needs {count} elements but the buffer holds {data.Length}.", nameof(data));
        }

        var pin = data.Pin();
        try
        {
            IntPtr value;
            fixed (long* dims = shape)
            {
                NativeApiStatus.VerifySuccess(OrtEnvironment.Api.CreateTensorWithDataAsOrtValue(
                    OrtEnvironment.Instance.CpuMemoryInfo.DangerousGetHandle(), pin.Pointer, (nuint)(count * sizeof(T)),
                    dims, (nuint)shape.Length, (int)type, &value));
            }
            return new OrtValue(value, pin, pinned: true);
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    /// <summary>Wraps a whole array as a tensor of <paramref name="shape"/> without copying.</summary>
    public static OrtValue CreateTensorValueFromMemory<T>(T[] data, ReadOnlySpan<long> shape) where T : unmanaged =>
        CreateTensorValueFromMemory(new Memory<T>(data), shape);

    /// <summary>Creates a tensor in memory that ORT allocates (CPU, default allocator); contents are undefined.</summary>
    public static OrtValue CreateAllocatedTensorValue(TensorElementType type, ReadOnlySpan<long> shape)
    {
        ElementCount(shape);
        IntPtr value;
        fixed (long* dims = shape)
        {
            NativeApiStatus.VerifySuccess(OrtEnvironment.Api.CreateTensorAsOrtValue(
                OrtEnvironment.Instance.DefaultAllocator, dims, (nuint)shape.Length, (int)type, &value));
        }
        return FromNative(value);
    }

    /// <summary>Whether the value is a dense tensor.</summary>
    public bool IsTensor
    {
        get
        {
            int result;
            NativeApiStatus.VerifySuccess(OrtEnvironment.Api.IsTensor(Native, &result));
            return result != 0;
        }
    }

    /// <summary>The kind of value (tensor, sequence, map, ...).</summary>
    public OnnxValueType OnnxType
    {
        get
        {
            int type;
            NativeApiStatus.VerifySuccess(OrtEnvironment.Api.GetValueType(Native, &type));
            return (OnnxValueType)type;
        }
    }

    /// <summary>Element type and shape of this tensor.</summary>
    public TensorTypeAndShape GetTensorTypeAndShape()
    {
        IntPtr info;
        NativeApiStatus.VerifySuccess(OrtEnvironment.Api.GetTensorTypeAndShape(Native, &info));
        using var owned = new TensorTypeAndShapeHandle(info);
        return ReadTensorInfo(info);
    }

    /// <summary>
    /// The tensor's elements in place (ORT's buffer, or the pinned managed buffer). Valid while this value is
    /// alive; throws when <typeparamref name="T"/> does not match the element type.
    /// </summary>
    public Span<T> GetTensorMutableDataAsSpan<T>() where T : unmanaged
    {
        var info = GetTensorTypeAndShape();
        var expected = TensorElementTypes.Of<T>();
        if (info.ElementType != expected)
        {
            throw new InvalidOperationException(
                $"Tensor holds {info.ElementType} elements; cannot view them as {typeof(T).Name} ({expected}).");
        }
        if (info.ElementCount > int.MaxValue)
        {
            throw new InvalidOperationException($"Tensor has {info.ElementCount} elements, too many for a Span.");
        }
        void* data;
        NativeApiStatus.VerifySuccess(OrtEnvironment.Api.GetTensorMutableData(Native, &data));
        return new Span<T>(data, (int)info.ElementCount);
    }

    /// <summary>Read-only view of the tensor's elements (see <see cref="GetTensorMutableDataAsSpan{T}"/>).</summary>
    public ReadOnlySpan<T> GetTensorDataAsSpan<T>() where T : unmanaged => GetTensorMutableDataAsSpan<T>();

    internal IntPtr Native
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }

    internal static TensorTypeAndShape ReadTensorInfo(IntPtr info)
    {
        var api = OrtEnvironment.Api;
        int type;
        nuint rank;
        nuint count;
        NativeApiStatus.VerifySuccess(api.GetTensorElementType(info, &type));
        NativeApiStatus.VerifySuccess(api.GetDimensionsCount(info, &rank));
        var dims = new long[(int)rank];
        fixed (long* p = dims)
        {
            NativeApiStatus.VerifySuccess(api.GetDimensions(info, p, rank));
        }
        if (dims.Any(d => d < 0))
        {
            // ORT's element count overflows (size_t) on a -1 dimension; an unknown dim has no count anyway.
            return new TensorTypeAndShape((TensorElementType)type, dims, -1);
        }
        NativeApiStatus.VerifySuccess(api.GetTensorShapeElementCount(info, &count));
        var elements = (long)count;
        return new TensorTypeAndShape((TensorElementType)type, dims, elements);
    }

    private static long ElementCount(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Shape [{string.Join(", ", shape.ToArray())}] has a negative dimension.", nameof(shape));
            }
            count = checked(count * d);
        }
        return count;
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        OrtEnvironment.Api.ReleaseValue(handle);
        if (_pinned)
        {
            _pin.Dispose(); // only after ORT no longer references the buffer
        }
        return true;
    }
}

/// <summary>Values returned by a run; disposing the collection disposes every value, in reverse order.</summary>
public sealed class OrtValueCollection : IReadOnlyList<OrtValue>, IDisposable
{
    private readonly OrtValue[] _values;
    private readonly string[] _names;

    internal OrtValueCollection(string[] names, OrtValue[] values)
    {
        _names = names;
        _values = values;
    }

    /// <summary>The value at <paramref name="index"/> (same order as the requested output names).</summary>
    public OrtValue this[int index] => _values[index];

    /// <summary>The value for output <paramref name="name"/>.</summary>
    public OrtValue this[string name]
    {
        get
        {
            var i = Array.IndexOf(_names, name);
            return i >= 0 ? _values[i] : throw new KeyNotFoundException($"No output named '{name}' in this result.");
        }
    }

    /// <summary>Output names, in order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <inheritdoc />
    public int Count => _values.Length;

    /// <inheritdoc />
    public IEnumerator<OrtValue> GetEnumerator() => ((IEnumerable<OrtValue>)_values).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public void Dispose()
    {
        for (var i = _values.Length - 1; i >= 0; i--)
        {
            _values[i].Dispose();
        }
    }
}
