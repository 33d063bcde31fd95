using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;

namespace NnSight.Generators.Analyzers;

/// <summary>The result of a shape rule: the result's shape (null when unknown), or why the operands cannot fit.</summary>
internal readonly struct RuleResult
{
    private RuleResult(SymbolicShape? shape, string? conflict)
    {
        Shape = shape;
        Conflict = conflict;
    }

    public SymbolicShape? Shape { get; }

    /// <summary>Why no batch size or sequence length makes the operation fit, or null.</summary>
    public string? Conflict { get; }

    public static RuleResult Unknown => default;

    public static implicit operator RuleResult(SymbolicShape? shape) => new(shape, null);

    public static RuleResult Fails(string conflict) => new(null, conflict);
}

/// <summary>
/// TorchSharp's shape rules on symbolic shapes: what an operation gives, and a conflict only when no batch size and
/// sequence length make it fit (sizes that may be 1 broadcast, products of run sizes may equal a multiple of their
/// factor). Every rule mirrors the runtime's (<c>OpRegistry</c>, <c>Interleaver</c>, <c>ShapeInference</c>), which
/// libtorch enforces.
/// </summary>
internal static class ShapeRules
{
    /// <summary>Elementwise operands broadcast: aligned from the right, each pair equal or one of them 1.</summary>
    public static RuleResult Broadcast(SymbolicTensor left, SymbolicTensor right)
    {
        var rank = System.Math.Max(left.Rank, right.Rank);
        var dims = new SymbolicDim[rank];
        for (var k = 1; k <= rank; k++)
        {
            var a = k <= left.Rank ? left.Dims[left.Rank - k] : SymbolicDim.Constant(1);
            var b = k <= right.Rank ? right.Dims[right.Rank - k] : SymbolicDim.Constant(1);
            if (!a.CanBeOne && !b.CanBeOne && !a.CanEqual(b))
            {
                return RuleResult.Fails($"{a} and {b} differ");
            }
            dims[rank - k] = Stretched(a, b);
        }
        return left.With(dims);
    }

    /// <summary>
    /// Whether <paramref name="value"/> can be written into a slot of <paramref name="target"/>: tuples element by element
    /// with the same count, a tensor into a tensor broadcast to the slot's shape (libtorch's <c>copy_</c>). Null when it
    /// can, or when that is not known.
    /// </summary>
    public static string? AssignConflict(SymbolicShape? target, SymbolicShape? value)
    {
        switch (target, value)
        {
            case (null, _) or (_, null):
                return null;
            case (SymbolicTuple, SymbolicTensor):
                return "a tuple cannot be set to a tensor";
            case (SymbolicTensor, SymbolicTuple):
                return "a tensor cannot be set to a tuple";
            case (SymbolicTuple targets, SymbolicTuple values):
                return targets.Elements.Length != values.Elements.Length
                    ? $"a tuple of {targets.Elements.Length} elements cannot be set to one of {values.Elements.Length}"
                    : targets.Elements.Zip(values.Elements, AssignConflict).FirstOrDefault(conflict => conflict is not null);
            case (SymbolicTensor slot, SymbolicTensor tensor):
                for (var k = 1; k <= tensor.Rank; k++)
                {
                    var given = tensor.Dims[tensor.Rank - k];
                    var size = k <= slot.Rank ? slot.Dims[slot.Rank - k] : SymbolicDim.Constant(1);
                    if (!given.CanBeOne && !given.CanEqual(size))
                    {
                        return k <= slot.Rank ? $"{given} and {size} differ" : $"the value has more dimensions, and {given} is not 1";
                    }
                }
                return null;
            default:
                return null;
        }
    }

    /// <summary>Whether two structures can be the same (<c>Skip</c> needs the module output's own structure).</summary>
    public static string? SameStructureConflict(SymbolicShape? expected, SymbolicShape? actual)
    {
        switch (expected, actual)
        {
            case (null, _) or (_, null):
                return null;
            case (SymbolicTuple, SymbolicTensor):
                return "a tuple and a tensor differ";
            case (SymbolicTensor, SymbolicTuple):
                return "a tensor and a tuple differ";
            case (SymbolicTuple first, SymbolicTuple second):
                return first.Elements.Length != second.Elements.Length
                    ? $"tuples of {first.Elements.Length} and {second.Elements.Length} elements differ"
                    : first.Elements.Zip(second.Elements, SameStructureConflict).FirstOrDefault(conflict => conflict is not null);
            case (SymbolicTensor first, SymbolicTensor second):
                if (first.Rank != second.Rank)
                {
                    return $"{first.Rank} and {second.Rank} dimensions differ";
                }
                var pair = first.Dims.Zip(second.Dims, (a, b) => (A: a, B: b)).FirstOrDefault(dims => !dims.A.CanEqual(dims.B));
                return pair.A is null ? null : $"{pair.A} and {pair.B} differ";
            default:
                return null;
        }
    }

    /// <summary>
    /// <c>matmul</c> with libtorch's rules: both at least 1-D, the left's last size equal to the right's second-to-last
    /// (its only one when 1-D), and the batch dimensions broadcast.
    /// </summary>
    public static RuleResult Matmul(SymbolicTensor left, SymbolicTensor right)
    {
        if (left.Rank == 0 || right.Rank == 0)
        {
            return RuleResult.Fails("both operands need at least one dimension");
        }
        var inner = left.Dims[left.Rank - 1];
        var other = right.Rank == 1 ? right.Dims[0] : right.Dims[right.Rank - 2];
        if (!inner.CanEqual(other))
        {
            return RuleResult.Fails($"the inner sizes {inner} and {other} differ");
        }
        if (left.Rank == 1 && right.Rank == 1)
        {
            return SymbolicShape.Scalar;
        }
        if (left.Rank == 1)
        {
            return right.With(right.Dims.Take(right.Rank - 2).Append(right.Dims[right.Rank - 1]));
        }
        if (right.Rank == 1)
        {
            return left.With(left.Dims.Take(left.Rank - 1));
        }
        var batch = Broadcast(left.With(left.Dims.Take(left.Rank - 2)), right.With(right.Dims.Take(right.Rank - 2)));
        if (batch.Conflict is { } conflict)
        {
            return RuleResult.Fails("the batch dimensions cannot broadcast: " + conflict);
        }
        return batch.Shape is SymbolicTensor dims
            ? left.With(dims.Dims.Append(left.Dims[left.Rank - 2]).Append(right.Dims[right.Rank - 1]))
            : RuleResult.Unknown;
    }

    /// <summary>A dimension argument normalized (<c>-1</c> is the last), or null when outside the value's dimensions.</summary>
    public static int? Dimension(long dim, int rank) =>
        dim >= -rank && dim < rank ? (int)(dim < 0 ? dim + rank : dim) : null;

    /// <summary>The text of a dimension outside the value: "dimension 3 is outside its 3 dimensions".</summary>
    public static string OutsideDimensions(long dim, int rank) =>
        $"dimension {dim} is outside its {rank} dimension{(rank == 1 ? "" : "s")} ({Range(rank)})";

    /// <summary>A reduction along <paramref name="dim"/>: the dimension removed, or kept as 1.</summary>
    public static RuleResult Reduce(SymbolicTensor value, long dim, bool keepDim)
    {
        if (Dimension(dim, value.Rank) is not { } at)
        {
            return value.Rank == 0 ? RuleResult.Unknown : RuleResult.Fails(OutsideDimensions(dim, value.Rank));
        }
        return keepDim ? value.With(value.Dims.SetItem(at, SymbolicDim.Constant(1))) : value.With(value.Dims.RemoveAt(at));
    }

    /// <summary>An operation along <paramref name="dim"/> that keeps the shape (softmax, cumsum).</summary>
    public static RuleResult Along(SymbolicTensor value, long dim) =>
        Dimension(dim, value.Rank) is null && value.Rank > 0 ? RuleResult.Fails(OutsideDimensions(dim, value.Rank)) : value;

    /// <summary><c>transpose(a, b)</c>; on a 0-d value libtorch accepts 0 and -1, so nothing is judged there.</summary>
    public static RuleResult Transpose(SymbolicTensor value, long first, long second)
    {
        if (value.Rank == 0)
        {
            return RuleResult.Unknown;
        }
        if (Dimension(first, value.Rank) is not { } a)
        {
            return RuleResult.Fails(OutsideDimensions(first, value.Rank));
        }
        if (Dimension(second, value.Rank) is not { } b)
        {
            return RuleResult.Fails(OutsideDimensions(second, value.Rank));
        }
        return value.With(value.Dims.SetItem(a, value.Dims[b]).SetItem(b, value.Dims[a]));
    }

    public static RuleResult Permute(SymbolicTensor value, IReadOnlyList<long> order)
    {
        if (order.Count != value.Rank)
        {
            return RuleResult.Fails($"it names {order.Count} dimensions of {value.Rank}");
        }
        var seen = new HashSet<int>();
        var dims = new List<SymbolicDim>();
        foreach (var dim in order)
        {
            if (Dimension(dim, value.Rank) is not { } at)
            {
                return RuleResult.Fails(OutsideDimensions(dim, value.Rank));
            }
            if (!seen.Add(at))
            {
                return RuleResult.Fails($"dimension {at} is named twice");
            }
            dims.Add(value.Dims[at]);
        }
        return value.With(dims);
    }

    public static RuleResult Unsqueeze(SymbolicTensor value, long dim) =>
        Dimension(dim, value.Rank + 1) is { } at
            ? value.With(value.Dims.Insert(at, SymbolicDim.Constant(1)))
            : RuleResult.Fails(OutsideDimensions(dim, value.Rank + 1));

    /// <summary><c>squeeze(dim)</c>: removes the dimension when it is 1; unknown when it may or may not be.</summary>
    public static RuleResult Squeeze(SymbolicTensor value, long dim)
    {
        if (Dimension(dim, value.Rank) is not { } at)
        {
            return value.Rank == 0 ? RuleResult.Unknown : RuleResult.Fails(OutsideDimensions(dim, value.Rank));
        }
        var size = value.Dims[at];
        return size.IsConstant && size.Factor == 1 ? value.With(value.Dims.RemoveAt(at)) : size.CanBeOne ? RuleResult.Unknown : value;
    }

    /// <summary><c>squeeze()</c>: known only when every dimension is known to be 1 or known not to be.</summary>
    public static RuleResult SqueezeAll(SymbolicTensor value) =>
        value.Dims.All(size => size.IsConstant || !size.CanBeOne)
            ? value.With(value.Dims.Where(size => !(size.IsConstant && size.Factor == 1)))
            : RuleResult.Unknown;

    public static RuleResult Flatten(SymbolicTensor value, long start, long end)
    {
        if (value.Rank == 0)
        {
            return RuleResult.Unknown;
        }
        if (Dimension(start, value.Rank) is not { } first)
        {
            return RuleResult.Fails(OutsideDimensions(start, value.Rank));
        }
        if (Dimension(end, value.Rank) is not { } last)
        {
            return RuleResult.Fails(OutsideDimensions(end, value.Rank));
        }
        if (first > last)
        {
            return RuleResult.Fails($"dimension {start} comes after dimension {end}");
        }
        var product = value.Dims.Skip(first).Take(last - first + 1).Aggregate(SymbolicDim.Constant(1), (total, size) => total.Times(size));
        return value.With(value.Dims.Take(first).Append(product).Concat(value.Dims.Skip(last + 1)));
    }

    /// <summary><c>narrow(dim, start, length)</c>: <paramref name="length"/> positions that must lie inside the dimension.</summary>
    public static RuleResult Narrow(SymbolicTensor value, long dim, long start, long length)
    {
        if (Dimension(dim, value.Rank) is not { } at)
        {
            return RuleResult.Fails(OutsideDimensions(dim, value.Rank));
        }
        var size = value.Dims[at];
        if (size.IsConstant && (start < -size.Factor || start > size.Factor || (start < 0 ? start + size.Factor : start) + length > size.Factor || length < 0))
        {
            return RuleResult.Fails($"positions {start} to {start + length - 1} are outside a dimension of size {size}");
        }
        return value.With(value.Dims.SetItem(at, SymbolicDim.Constant(length)));
    }

    /// <summary><c>select(dim, index)</c> and single indices: the dimension removed; a constant index must be inside it.</summary>
    public static RuleResult Select(SymbolicTensor value, long dim, long? index)
    {
        if (Dimension(dim, value.Rank) is not { } at)
        {
            return value.Rank == 0 ? RuleResult.Fails("a value with no dimensions cannot be indexed") : RuleResult.Fails(OutsideDimensions(dim, value.Rank));
        }
        if (index is { } position && OutsidePosition(position, value.Dims[at]) is { } outside)
        {
            return RuleResult.Fails(outside);
        }
        return value.With(value.Dims.RemoveAt(at));
    }

    /// <summary>Why position <paramref name="index"/> (negative from the end) is outside a dimension of <paramref name="size"/>, or null.</summary>
    public static string? OutsidePosition(long index, SymbolicDim size) =>
        size.IsConstant && (index >= size.Factor || index < -size.Factor)
            ? $"position {index} is outside a dimension of size {size}"
            : null;

    /// <summary>A slice <c>start:stop</c> (Python's clamping, nulls open) of a dimension: its length when known.</summary>
    public static SymbolicDim Slice(SymbolicDim size, long? start, long? stop)
    {
        if (start is null && stop is null)
        {
            return size;
        }
        if (!size.IsConstant)
        {
            return SymbolicDim.Unknown;
        }
        var n = size.Factor;
        long Clamp(long? bound, long open)
        {
            var position = bound ?? open;
            position = position < 0 ? position + n : position;
            return System.Math.Min(System.Math.Max(position, 0), n);
        }
        return SymbolicDim.Constant(System.Math.Max(0, Clamp(stop, n) - Clamp(start, 0)));
    }

    /// <summary>
    /// <c>reshape</c>/<c>view</c> to constant sizes with at most one <c>-1</c>: the element counts must agree, which is a
    /// conflict only when no run sizes make them (the value's count is a multiple of its numeric factor).
    /// </summary>
    public static RuleResult Reshape(SymbolicTensor value, IReadOnlyList<long> sizes)
    {
        if (sizes.Count(size => size == -1) > 1 || sizes.Any(size => size < -1))
        {
            return RuleResult.Fails($"({string.Join(", ", sizes)}) is not a shape (at most one -1, no other negative size)");
        }
        var total = value.Dims.Aggregate(SymbolicDim.Constant(1), (product, size) => product.Times(size));
        if (!total.IsKnown)
        {
            return RuleResult.Unknown;
        }
        var known = sizes.Where(size => size != -1).Aggregate(1L, (product, size) => product * size);
        var target = "[" + string.Join(", ", sizes.Select(size => size.ToString(CultureInfo.InvariantCulture))) + "]";
        if (!sizes.Contains(-1))
        {
            return total.CanEqual(SymbolicDim.Constant(known))
                ? value.With(sizes.Select(SymbolicDim.Constant))
                : RuleResult.Fails($"its {total} elements never make {target}'s {known}");
        }
        if (known == 0)
        {
            return RuleResult.Unknown;
        }
        SymbolicDim inferred;
        if (total.IsConstant)
        {
            if (total.Factor % known != 0)
            {
                return RuleResult.Fails($"its {total} elements do not divide into {target}");
            }
            inferred = SymbolicDim.Constant(total.Factor / known);
        }
        else
        {
            inferred = total.Factor % known == 0
                ? total.Symbols.Aggregate(SymbolicDim.Constant(total.Factor / known), (product, name) => product.Times(SymbolicDim.Symbol(name)))
                : SymbolicDim.Unknown;
        }
        return value.With(sizes.Select(size => size == -1 ? inferred : SymbolicDim.Constant(size)));
    }

    /// <summary><c>expand(sizes)</c>: new leading dimensions, and each existing one 1 or its size (<c>-1</c> keeps it).</summary>
    public static RuleResult Expand(SymbolicTensor value, IReadOnlyList<long> sizes)
    {
        if (sizes.Count < value.Rank)
        {
            return RuleResult.Fails($"{sizes.Count} sizes are fewer than its {value.Rank} dimensions");
        }
        var dims = new SymbolicDim[sizes.Count];
        for (var k = 1; k <= sizes.Count; k++)
        {
            var wanted = sizes[sizes.Count - k];
            var existing = k <= value.Rank ? value.Dims[value.Rank - k] : null;
            if (wanted == -1)
            {
                if (existing is null)
                {
                    return RuleResult.Fails("-1 cannot size a new dimension");
                }
                dims[sizes.Count - k] = existing;
                continue;
            }
            var size = SymbolicDim.Constant(wanted);
            if (existing is not null && !existing.CanBeOne && !existing.CanEqual(size))
            {
                return RuleResult.Fails($"{existing} cannot expand to {wanted}");
            }
            dims[sizes.Count - k] = size;
        }
        return value.With(dims);
    }

    /// <summary>The size two broadcast sizes give: a size that cannot be 1 wins, equal sizes stay, otherwise unknown.</summary>
    private static SymbolicDim Stretched(SymbolicDim a, SymbolicDim b)
    {
        if (b.IsConstant && b.Factor == 1 || a.Equals(b) || !a.CanBeOne)
        {
            return a;
        }
        return a.IsConstant && a.Factor == 1 || !b.CanBeOne ? b : SymbolicDim.Unknown;
    }

    private static string Range(int rank) => rank switch
    {
        0 => "none",
        1 => "0, or -1",
        _ => $"0 to {rank - 1}, or -1 to -{rank}",
    };
}
