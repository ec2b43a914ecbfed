using System.Runtime.InteropServices;

namespace CausalTap.Onnx.Native;

/// <summary>The one path from an <c>OrtStatus*</c> to an exception.</summary>
internal static unsafe class NativeApiStatus
{
    /// <summary>
    /// Does nothing for a null status (success). Otherwise throws <see cref="OnnxRuntimeException"/> with ORT's error
    /// code and message, releasing the status in every case.
    /// </summary>
    public static void VerifySuccess(IntPtr status)
    {
        if (status == IntPtr.Zero)
        {
            return;
        }
        var api = OrtEnvironment.Api;
        try
        {
            var code = (ErrorCode)api.GetErrorCode(status);
            var message = Marshal.PtrToStringUTF8((IntPtr)api.GetErrorMessage(status)) ?? "(no message)";
            throw new OnnxRuntimeException(code, message);
        }
        finally
        {
            api.ReleaseStatus(status);
        }
    }
}
