using System.Runtime.InteropServices;

namespace CausalTap.Onnx.Native;

/// <summary>
/// Base for internal owned native objects: zero is invalid, and the release function is the matching
/// <c>Release*</c> slot of the API table.
/// </summary>
internal abstract unsafe class OrtHandle : SafeHandle
{
    protected OrtHandle() : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    protected OrtHandle(IntPtr handle) : this() => SetHandle(handle);

    public override bool IsInvalid => handle == IntPtr.Zero;
}

/// <summary>Owned <c>OrtEnv*</c>.</summary>
internal sealed unsafe class EnvHandle(IntPtr handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtEnvironment.Api.ReleaseEnv(handle);
        return true;
    }
}

/// <summary>Owned <c>OrtSession*</c>.</summary>
internal sealed unsafe class SessionHandle(IntPtr handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtEnvironment.Api.ReleaseSession(handle);
        return true;
    }
}

/// <summary>Owned <c>OrtMemoryInfo*</c>.</summary>
internal sealed unsafe class MemoryInfoHandle(IntPtr handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtEnvironment.Api.ReleaseMemoryInfo(handle);
        return true;
    }
}

/// <summary>Owned <c>OrtTypeInfo*</c>.</summary>
internal sealed unsafe class TypeInfoHandle(IntPtr handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtEnvironment.Api.ReleaseTypeInfo(handle);
        return true;
    }
}

/// <summary>Owned <c>OrtTensorTypeAndShapeInfo*</c>.</summary>
internal sealed unsafe class TensorTypeAndShapeHandle(IntPtr handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtEnvironment.Api.ReleaseTensorTypeAndShapeInfo(handle);
        return true;
    }
}

/// <summary>Owned <c>OrtCUDAProviderOptionsV2*</c>.</summary>
internal sealed unsafe class CudaProviderOptionsHandle(IntPtr handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtEnvironment.Api.ReleaseCUDAProviderOptions(handle);
        return true;
    }
}

/// <summary>Owned <c>OrtTensorRTProviderOptionsV2*</c>.</summary>
internal sealed unsafe class TensorRtProviderOptionsHandle(IntPtr handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtEnvironment.Api.ReleaseTensorRTProviderOptions(handle);
        return true;
    }
}

/// <summary>
/// A <c>char*</c> that ORT allocated with the default allocator (names, profile file path); freed with
/// <c>AllocatorFree</c> on the same allocator.
/// </summary>
internal sealed unsafe class AllocatorStringHandle : OrtHandle
{
    private readonly IntPtr _allocator;

    public AllocatorStringHandle(IntPtr allocator, IntPtr value) : base(value) => _allocator = allocator;

    public override string ToString() => IsInvalid ? string.Empty : Utf8.FromNative((byte*)handle);

    protected override bool ReleaseHandle()
    {
        var status = OrtEnvironment.Api.AllocatorFree(_allocator, handle);
        if (status != IntPtr.Zero)
        {
            OrtEnvironment.Api.ReleaseStatus(status);
            return false;
        }
        return true;
    }

    /// <summary>Takes ownership of an allocator string, copies it to managed memory and frees it.</summary>
    public static string TakeString(IntPtr allocator, IntPtr value)
    {
        using var owned = new AllocatorStringHandle(allocator, value);
        return owned.ToString();
    }
}
