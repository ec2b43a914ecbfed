using System.Runtime.InteropServices;
using CausalTap.Onnx.Native;

namespace CausalTap.Onnx;

/// <summary>Owned <c>OrtRunOptions</c>: per-run log level, tag, config entries and cooperative termination.</summary>
public sealed unsafe class RunOptions : SafeHandle
{
    private OrtLoggingLevel _logSeverityLevel = OrtLoggingLevel.Warning;
    private string _logTag = string.Empty;
    private bool _terminate;

    /// <summary>Creates default run options.</summary>
    public RunOptions() : base(IntPtr.Zero, ownsHandle: true)
    {
        IntPtr options;
        NativeApiStatus.VerifySuccess(OrtEnvironment.Api.CreateRunOptions(&options));
        SetHandle(options);
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Minimum severity of log messages for runs using these options.</summary>
    public OrtLoggingLevel LogSeverityLevel
    {
        get => _logSeverityLevel;
        set
        {
            NativeApiStatus.VerifySuccess(OrtEnvironment.Api.RunOptionsSetRunLogSeverityLevel(Native, (int)value));
            _logSeverityLevel = value;
        }
    }

    /// <summary>Tag used in log lines of runs using these options.</summary>
    public string LogTag
    {
        get => _logTag;
        set
        {
            using var tag = new NativeUtf8(value);
            NativeApiStatus.VerifySuccess(OrtEnvironment.Api.RunOptionsSetRunTag(Native, tag.Pointer));
            _logTag = value;
        }
    }

    /// <summary>
    /// Setting true makes runs in flight with these options (and later ones) fail soon; set false to run again.
    /// Safe to set from another thread.
    /// </summary>
    public bool Terminate
    {
        get => _terminate;
        set
        {
            NativeApiStatus.VerifySuccess(value
                ? OrtEnvironment.Api.RunOptionsSetTerminate(Native)
                : OrtEnvironment.Api.RunOptionsUnsetTerminate(Native));
            _terminate = value;
        }
    }

    /// <summary>Sets a run config entry (keys from ORT's <c>onnxruntime_run_options_config_keys.h</c>).</summary>
    public void AddRunConfigEntry(string key, string value)
    {
        using var k = new NativeUtf8(key);
        using var v = new NativeUtf8(value);
        NativeApiStatus.VerifySuccess(OrtEnvironment.Api.AddRunConfigEntry(Native, k.Pointer, v.Pointer));
    }

    internal IntPtr Native
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        OrtEnvironment.Api.ReleaseRunOptions(handle);
        return true;
    }
}
