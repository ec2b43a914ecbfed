namespace CausalTap.Onnx;

/// <summary>Tensor element types (<c>ONNXTensorElementDataType</c>, same values as ONNX <c>TensorProto.DataType</c>).</summary>
public enum TensorElementType
{
    /// <summary>Not a tensor / unknown.</summary>
    Undefined = 0,
    /// <summary>float (32-bit).</summary>
    Float = 1,
    /// <summary>uint8.</summary>
    UInt8 = 2,
    /// <summary>int8.</summary>
    Int8 = 3,
    /// <summary>uint16.</summary>
    UInt16 = 4,
    /// <summary>int16.</summary>
    Int16 = 5,
    /// <summary>int32.</summary>
    Int32 = 6,
    /// <summary>int64.</summary>
    Int64 = 7,
    /// <summary>string.</summary>
    String = 8,
    /// <summary>bool (one byte).</summary>
    Bool = 9,
    /// <summary>IEEE half (<see cref="System.Half"/>).</summary>
    Float16 = 10,
    /// <summary>double.</summary>
    Double = 11,
    /// <summary>uint32.</summary>
    UInt32 = 12,
    /// <summary>uint64.</summary>
    UInt64 = 13,
    /// <summary>complex64.</summary>
    Complex64 = 14,
    /// <summary>complex128.</summary>
    Complex128 = 15,
    /// <summary>bfloat16.</summary>
    BFloat16 = 16,
}

/// <summary>Maps CLR element types to <see cref="TensorElementType"/> and back.</summary>
public static class TensorElementTypes
{
    /// <summary>The element type for <typeparamref name="T"/>, or throws for an unsupported type.</summary>
    public static TensorElementType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? TensorElementType.Float
        : typeof(T) == typeof(Half) ? TensorElementType.Float16
        : typeof(T) == typeof(long) ? TensorElementType.Int64
        : typeof(T) == typeof(int) ? TensorElementType.Int32
        : typeof(T) == typeof(byte) ? TensorElementType.UInt8
        : typeof(T) == typeof(bool) ? TensorElementType.Bool
        : typeof(T) == typeof(sbyte) ? TensorElementType.Int8
        : typeof(T) == typeof(short) ? TensorElementType.Int16
        : typeof(T) == typeof(ushort) ? TensorElementType.UInt16
        : typeof(T) == typeof(double) ? TensorElementType.Double
        : typeof(T) == typeof(uint) ? TensorElementType.UInt32
        : typeof(T) == typeof(ulong) ? TensorElementType.UInt64
        : throw new NotSupportedException($"{typeof(T).Name} is not a supported tensor element type.");

    /// <summary>Size in bytes of one element, or 0 for types without a fixed size (string, undefined).</summary>
    public static int SizeOf(TensorElementType type) => type switch
    {
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Bool => 1,
        TensorElementType.UInt16 or TensorElementType.Int16 or TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
        TensorElementType.Int64 or TensorElementType.UInt64 or TensorElementType.Double or TensorElementType.Complex64 => 8,
        TensorElementType.Complex128 => 16,
        _ => 0,
    };
}
