namespace CausalTap.Onnx;

/// <summary>Log severity (<c>OrtLoggingLevel</c>); messages at or above the level are shown.</summary>
public enum OrtLoggingLevel
{
    /// <summary>Verbose.</summary>
    Verbose = 0,
    /// <summary>Informational.</summary>
    Info = 1,
    /// <summary>Warnings.</summary>
    Warning = 2,
    /// <summary>Errors.</summary>
    Error = 3,
    /// <summary>Fatal errors only.</summary>
    Fatal = 4,
}

/// <summary>Graph optimisation level (<c>GraphOptimizationLevel</c>).</summary>
public enum GraphOptimizationLevel
{
    /// <summary>No optimisation.</summary>
    DisableAll = 0,
    /// <summary>Basic, provider-independent rewrites.</summary>
    EnableBasic = 1,
    /// <summary>Basic plus extended (fusions).</summary>
    EnableExtended = 2,
    /// <summary>Everything including layout optimisations.</summary>
    EnableAll = 99,
}

/// <summary>Whether independent nodes may run in parallel (<c>ExecutionMode</c>).</summary>
public enum ExecutionMode
{
    /// <summary>Nodes run one after another (inter-op threads unused).</summary>
    Sequential = 0,
    /// <summary>Independent nodes run in parallel on the inter-op pool.</summary>
    Parallel = 1,
}

/// <summary>Kind of an ONNX value (<c>ONNXType</c>).</summary>
public enum OnnxValueType
{
    /// <summary>Unknown.</summary>
    Unknown = 0,
    /// <summary>Dense tensor.</summary>
    Tensor = 1,
    /// <summary>Sequence.</summary>
    Sequence = 2,
    /// <summary>Map.</summary>
    Map = 3,
    /// <summary>Opaque.</summary>
    Opaque = 4,
    /// <summary>Sparse tensor.</summary>
    SparseTensor = 5,
    /// <summary>Optional.</summary>
    Optional = 6,
}
