using System.Reflection;
using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>What one position of a tensor index selects.</summary>
internal enum IndexKind
{
    /// <summary>One position (the dimension is removed); negative counts from the end.</summary>
    Single,

    /// <summary>A range <c>start:stop:step</c> (nulls are open ends).</summary>
    Slice,

    /// <summary><c>...</c>: as many full dimensions as needed.</summary>
    Ellipsis,

    /// <summary>A new dimension of size 1.</summary>
    NewAxis,

    /// <summary>A boolean mask (true keeps a new dimension of size 1, false an empty one).</summary>
    Bool,

    /// <summary>An index or mask tensor (advanced indexing).</summary>
    Tensor,
}

/// <summary>
/// One position of a tensor index as data, so an index can be stored in the graph and serialized. Converts from and
/// to TorchSharp's <see cref="TensorIndex"/> (whose parts TorchSharp keeps internal).
/// </summary>
/// <param name="Kind">What it selects.</param>
/// <param name="Start">The single position, the slice start, or 1/0 for a bool.</param>
/// <param name="Stop">The slice stop.</param>
/// <param name="Step">The slice step.</param>
/// <param name="Values">The index tensor for <see cref="IndexKind.Tensor"/>.</param>
internal sealed record IndexSpec(IndexKind Kind, long? Start = null, long? Stop = null, long? Step = null, Tensor? Values = null)
{
    private static readonly Type IndexType = typeof(TensorIndex);
    private static readonly FieldInfo KindField = Field("kind");
    private static readonly FieldInfo StartField = Field("startIndexOrBoolOrSingle");
    private static readonly FieldInfo StopField = Field("stopIndex");
    private static readonly FieldInfo StepField = Field("step");
    private static readonly FieldInfo TensorField = Field("tensor");

    /// <summary>Reads a TorchSharp index; an index tensor is taken as a handle of its own, which the graph holding the spec disposes.</summary>
    public static IndexSpec From(TensorIndex index)
    {
        object boxed = index;
        var start = (long?)StartField.GetValue(boxed);
        return KindField.GetValue(boxed)!.ToString() switch
        {
            "Single" => new IndexSpec(IndexKind.Single, start),
            "Slice" => new IndexSpec(IndexKind.Slice, start, (long?)StopField.GetValue(boxed), (long?)StepField.GetValue(boxed)),
            "Ellipsis" => new IndexSpec(IndexKind.Ellipsis),
            "None" => new IndexSpec(IndexKind.NewAxis),
            "Bool" => new IndexSpec(IndexKind.Bool, start),
            "Tensor" => new IndexSpec(IndexKind.Tensor, Values: ((Tensor)TensorField.GetValue(boxed)!).alias().DetachFromDisposeScope()),
            var other => throw new TracingException($"TensorIndex of kind {other} cannot be recorded."),
        };
    }

    /// <summary>The TorchSharp index this spec describes.</summary>
    public TensorIndex ToTensorIndex() => Kind switch
    {
        IndexKind.Single => TensorIndex.Single(Start),
        IndexKind.Slice => TensorIndex.Slice(Start, Stop, Step),
        IndexKind.Ellipsis => TensorIndex.Ellipsis,
        IndexKind.NewAxis => TensorIndex.None,
        IndexKind.Bool => TensorIndex.Bool(Start == 1),
        IndexKind.Tensor => TensorIndex.Tensor(Values ?? throw new InvalidOperationException("A tensor index needs its tensor.")),
        _ => throw new InvalidOperationException($"Unknown index kind {Kind}."),
    };

    /// <summary>Python-style text: <c>13</c>, <c>:</c>, <c>1:3</c>, <c>...</c>, <c>None</c>.</summary>
    public override string ToString() => Kind switch
    {
        IndexKind.Single => $"{Start}",
        IndexKind.Slice => $"{(Start is null or 0 ? "" : Start.ToString())}:{Stop?.ToString() ?? ""}" + (Step is { } step ? $":{step}" : ""),
        IndexKind.Ellipsis => "...",
        IndexKind.NewAxis => "None",
        IndexKind.Bool => Start == 1 ? "True" : "False",
        _ => "tensor",
    };

    /// <summary>A whole index written as Python does: <c>[:, 13]</c>.</summary>
    public static string Format(IEnumerable<IndexSpec> indices) => "[" + string.Join(", ", indices) + "]";

    private static FieldInfo Field(string name) =>
        IndexType.GetField(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
        ?? throw new MissingFieldException($"TorchSharp's TensorIndex has no field {name}; this TorchSharp version is not supported.");
}
