namespace CausalTap.Onnx;

/// <summary>Name, kind, element type and shape of one model input or output.</summary>
/// <param name="Name">Input or output name.</param>
/// <param name="ValueType">Kind of value (tensor for all models this project uses).</param>
/// <param name="ElementType">Tensor element type (<see cref="TensorElementType.Undefined"/> for non-tensors).</param>
/// <param name="Shape">Dimensions; -1 marks a dynamic dimension.</param>
/// <param name="SymbolicDimensions">Per dimension, the symbolic name (e.g. "batch") or an empty string.</param>
public sealed record NodeMetadata(
    string Name,
    OnnxValueType ValueType,
    TensorElementType ElementType,
    IReadOnlyList<long> Shape,
    IReadOnlyList<string> SymbolicDimensions)
{
    /// <summary>True when any dimension is dynamic.</summary>
    public bool IsDynamic => Shape.Any(d => d < 0);

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name}: {ElementType}[{string.Join(", ", Shape.Select((d, i) => d >= 0 ? d.ToString() : SymbolicDimensions[i] is { Length: > 0 } s ? s : "?"))}]";
}
