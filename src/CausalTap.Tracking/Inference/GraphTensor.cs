using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CausalTap.Tracking.Inference;

/// <summary>Name, element type and shape of one graph input or output, read from ORT's <see cref="NodeMetadata"/>.</summary>
/// <param name="Name">Input or output name.</param>
/// <param name="ElementType">Tensor element type.</param>
/// <param name="Shape">Dimensions; -1 marks a dynamic one.</param>
/// <param name="SymbolicDimensions">Per dimension, its symbolic name (e.g. "N") or an empty string.</param>
public sealed record GraphTensor(string Name, TensorElementType ElementType, IReadOnlyList<long> Shape, IReadOnlyList<string> SymbolicDimensions)
{
    /// <summary>True when any dimension is dynamic.</summary>
    public bool IsDynamic => Shape.Any(d => d < 0);

    /// <summary>The inputs of <paramref name="session"/>, in the graph's order.</summary>
    public static IReadOnlyList<GraphTensor> Inputs(InferenceSession session) => From(session.InputNames, session.InputMetadata);

    /// <summary>The outputs of <paramref name="session"/>, in the graph's order.</summary>
    public static IReadOnlyList<GraphTensor> Outputs(InferenceSession session) => From(session.OutputNames, session.OutputMetadata);

    private static GraphTensor[] From(IReadOnlyList<string> names, IReadOnlyDictionary<string, NodeMetadata> metadata) =>
        [.. names.Select(n => metadata[n] is var m && m.IsTensor
            ? new GraphTensor(n, m.ElementDataType, [.. m.Dimensions.Select(d => (long)d)], [.. m.SymbolicDimensions.Select(s => s ?? "")])
            : new GraphTensor(n, TensorElementType.DataTypeMax, [], []))];

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name}: {ElementType}[{string.Join(", ", Shape.Select((d, i) => d >= 0 ? d.ToString() : i < SymbolicDimensions.Count && SymbolicDimensions[i].Length > 0 ? SymbolicDimensions[i] : "?"))}]";
}
