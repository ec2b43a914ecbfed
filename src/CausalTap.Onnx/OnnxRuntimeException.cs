namespace CausalTap.Onnx;

/// <summary>ONNX Runtime error codes (<c>OrtErrorCode</c>).</summary>
public enum ErrorCode
{
    /// <summary>Success.</summary>
    Ok = 0,
    /// <summary>Generic failure.</summary>
    Fail = 1,
    /// <summary>Invalid argument (bad input name, shape or type).</summary>
    InvalidArgument = 2,
    /// <summary>A file was not found.</summary>
    NoSuchFile = 3,
    /// <summary>No model loaded.</summary>
    NoModel = 4,
    /// <summary>Engine error.</summary>
    EngineError = 5,
    /// <summary>Runtime exception inside ORT.</summary>
    RuntimeException = 6,
    /// <summary>The model is not a valid protobuf.</summary>
    InvalidProtobuf = 7,
    /// <summary>The model was already loaded.</summary>
    ModelLoaded = 8,
    /// <summary>Not implemented.</summary>
    NotImplemented = 9,
    /// <summary>The graph is invalid.</summary>
    InvalidGraph = 10,
    /// <summary>An execution provider failed.</summary>
    EpFail = 11,
}

/// <summary>An error reported by ONNX Runtime; <see cref="Exception.Message"/> carries ORT's own message.</summary>
public class OnnxRuntimeException : Exception
{
    /// <summary>Creates the exception from ORT's error code and message.</summary>
    public OnnxRuntimeException(ErrorCode errorCode, string message)
        : base($"[ErrorCode:{errorCode}] {message}")
    {
        ErrorCode = errorCode;
        NativeMessage = message;
    }

    /// <summary>Creates the exception with a context message and the ORT error that caused it.</summary>
    public OnnxRuntimeException(ErrorCode errorCode, string message, Exception inner)
        : base(message, inner)
    {
        ErrorCode = errorCode;
        NativeMessage = inner is OnnxRuntimeException ort ? ort.NativeMessage : message;
    }

    /// <summary>ORT's error code.</summary>
    public ErrorCode ErrorCode { get; }

    /// <summary>The message exactly as ORT produced it.</summary>
    public string NativeMessage { get; }
}

/// <summary>The ONNX Runtime shared library could not be found or loaded.</summary>
public sealed class OnnxRuntimeLibraryException : Exception
{
    /// <summary>Creates the exception for the path that was tried (null when none was given).</summary>
    public OnnxRuntimeLibraryException(string? attemptedPath, string message, Exception? inner = null)
        : base(message, inner) => AttemptedPath = attemptedPath;

    /// <summary>The full path that was tried, or null when no path was configured.</summary>
    public string? AttemptedPath { get; }
}

/// <summary>A requested execution provider could not be used and strict provider selection was asked for.</summary>
public sealed class ExecutionProviderException : OnnxRuntimeException
{
    /// <summary>Creates the exception for <paramref name="provider"/> with a full explanation.</summary>
    public ExecutionProviderException(string provider, ErrorCode code, string message, Exception? inner = null)
        : base(code, message, inner ?? new OnnxRuntimeException(code, message)) => Provider = provider;

    /// <summary>The provider that failed, as requested (e.g. "cuda").</summary>
    public string Provider { get; }
}
