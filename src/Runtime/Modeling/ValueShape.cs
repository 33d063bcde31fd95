using static TorchSharp.torch;

namespace NnSight;

/// <summary>The structure of a value before it exists: a tensor's shape and dtype, or a tuple of such structures.</summary>
public abstract record ValueShape
{
    private protected ValueShape()
    {
    }
}

/// <summary>A tensor of known shape and element type.</summary>
/// <param name="Dims">The sizes of its dimensions.</param>
/// <param name="Dtype">Its element type.</param>
public sealed record TensorShape(long[] Dims, ScalarType Dtype) : ValueShape
{
    /// <summary>The shape written as <c>[a, b, c]</c>.</summary>
    public override string ToString() => Shapes.Format(Dims);
}

/// <summary>A tuple whose elements have known structures (null where an element is not a tensor or is unknown).</summary>
/// <param name="Elements">The elements' structures.</param>
public sealed record TupleShape(IReadOnlyList<ValueShape?> Elements) : ValueShape
{
    /// <summary>The elements written as <c>([a, b], [c])</c>.</summary>
    public override string ToString() => "(" + string.Join(", ", Elements.Select(element => element?.ToString() ?? "?")) + ")";
}

/// <summary>The sizes of one forward pass, for shape rules: rows of the invocation, new positions, cached positions.</summary>
/// <param name="Rows">The invocation's rows (the batch dimension of its values).</param>
/// <param name="Positions">The positions this pass computes (the padded prompt length, then 1 per generated token).</param>
/// <param name="PastPositions">The positions already in the key/value cache.</param>
public sealed record ForwardShape(long Rows, long Positions, long PastPositions);

/// <summary>
/// A model's shape rules: the output and input structure of each module for a forward pass of given sizes. Lets
/// proxies report <c>shape</c> before anything runs (libtorch's meta device cannot run Embedding, LayerNorm or attention).
/// </summary>
public interface IShapeRules
{
    /// <summary>The output structure of the module at <paramref name="path"/>, or null when no rule applies.</summary>
    ValueShape? Output(string path, ForwardShape forward);

    /// <summary>The structure of the module's positional arguments as a tuple, or null when no rule applies.</summary>
    ValueShape? Inputs(string path, ForwardShape forward);
}

/// <summary>Shape formatting shared by messages.</summary>
internal static class Shapes
{
    /// <summary>Whether two structures have the same tuple nesting and tensor sizes (unknown elements match anything).</summary>
    public static bool SameStructure(ValueShape? first, ValueShape? second) => (first, second) switch
    {
        (null, _) or (_, null) => true,
        (TensorShape a, TensorShape b) => a.Dims.SequenceEqual(b.Dims),
        (TupleShape a, TupleShape b) => a.Elements.Count == b.Elements.Count && a.Elements.Zip(b.Elements).All(pair => SameStructure(pair.First, pair.Second)),
        _ => false,
    };

    /// <summary>A shape written as <c>[a, b, c]</c>.</summary>
    public static string Format(IEnumerable<long> dims) =>
        "[" + string.Join(", ", dims.Select(size => size.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
}
