using System.Runtime.InteropServices;
using System.Text;

namespace CausalTap.Onnx.Native;

/// <summary>UTF-8 marshalling for <c>const char*</c> arguments, using native memory the caller frees.</summary>
internal static unsafe class Utf8
{
    /// <summary>Allocates a NUL-terminated UTF-8 copy of <paramref name="value"/>; free with <see cref="Free"/>.</summary>
    public static byte* Alloc(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        var p = (byte*)NativeMemory.Alloc((nuint)count + 1);
        Encoding.UTF8.GetBytes(value, new Span<byte>(p, count));
        p[count] = 0;
        return p;
    }

    public static void Free(byte* p) => NativeMemory.Free(p);

    public static string FromNative(byte* p) => Marshal.PtrToStringUTF8((IntPtr)p) ?? string.Empty;
}

/// <summary>A temporary native UTF-8 string for one call.</summary>
internal readonly unsafe struct NativeUtf8 : IDisposable
{
    public readonly byte* Pointer;

    public NativeUtf8(string value) => Pointer = Utf8.Alloc(value);

    public void Dispose() => Utf8.Free(Pointer);
}

/// <summary>Temporary parallel <c>const char* const*</c> key and value arrays (provider and config options).</summary>
internal sealed unsafe class NativeKeyValues : IDisposable
{
    private readonly byte*[] _keys;
    private readonly byte*[] _values;
    private readonly GCHandle _keysPin;
    private readonly GCHandle _valuesPin;

    public NativeKeyValues(IReadOnlyDictionary<string, string>? pairs)
    {
        var list = pairs?.ToArray() ?? [];
        _keys = new byte*[list.Length];
        _values = new byte*[list.Length];
        for (var i = 0; i < list.Length; i++)
        {
            _keys[i] = Utf8.Alloc(list[i].Key);
            _values[i] = Utf8.Alloc(list[i].Value);
        }
        _keysPin = GCHandle.Alloc(_keys, GCHandleType.Pinned);
        _valuesPin = GCHandle.Alloc(_values, GCHandleType.Pinned);
    }

    public nuint Count => (nuint)_keys.Length;
    public byte** Keys => (byte**)_keysPin.AddrOfPinnedObject();
    public byte** Values => (byte**)_valuesPin.AddrOfPinnedObject();

    public void Dispose()
    {
        _keysPin.Free();
        _valuesPin.Free();
        for (var i = 0; i < _keys.Length; i++)
        {
            Utf8.Free(_keys[i]);
            Utf8.Free(_values[i]);
        }
    }
}
