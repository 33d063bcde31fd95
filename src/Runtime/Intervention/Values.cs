using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>
/// Operations on module values: a tensor, or a tuple of values (value tuples, <see cref="IStructuredOutput"/>), with
/// anything else (null, numbers) as opaque leaves.
/// </summary>
internal static class Values
{
    /// <summary>The tensors of a value, depth first.</summary>
    public static IEnumerable<Tensor> Tensors(object? value)
    {
        switch (value)
        {
            case Tensor tensor:
                yield return tensor;
                break;
            case ITuple tuple:
                for (var i = 0; i < tuple.Length; i++)
                {
                    foreach (var tensor in Tensors(tuple[i]))
                    {
                        yield return tensor;
                    }
                }
                break;
        }
    }

    /// <summary>The value with every tensor replaced by <paramref name="map"/>'s result, same structure.</summary>
    public static object? Map(object? value, Func<Tensor, Tensor> map) => value switch
    {
        Tensor tensor => map(tensor),
        ITuple tuple => Rebuild(tuple, [.. Enumerable.Range(0, tuple.Length).Select(i => Map(tuple[i], map))]),
        _ => value,
    };

    /// <summary>
    /// One value from <paramref name="parts"/> of the same structure, each holding <paramref name="rows"/>[i] batch rows:
    /// their tensors joined along dimension 0 in order. False when the structures differ, a part has other rows, or
    /// other leaves differ.
    /// </summary>
    public static bool TryJoinRows(IReadOnlyList<object?> parts, IReadOnlyList<long> rows, out object? joined)
    {
        joined = null;
        switch (parts[0])
        {
            case Tensor:
                var tensors = parts.OfType<Tensor>().ToArray();
                if (tensors.Length != parts.Count || tensors.Where((tensor, i) => tensor.dim() == 0 || tensor.shape[0] != rows[i]).Any())
                {
                    return false;
                }
                joined = tensors.Length == 1 ? tensors[0] : cat(tensors, 0);
                return true;
            case ITuple first:
                var tuples = parts.OfType<ITuple>().ToArray();
                if (tuples.Length != parts.Count || tuples.Any(tuple => tuple.Length != first.Length))
                {
                    return false;
                }
                var elements = new object?[first.Length];
                for (var i = 0; i < first.Length; i++)
                {
                    if (!TryJoinRows([.. tuples.Select(tuple => tuple[i])], rows, out elements[i]))
                    {
                        return false;
                    }
                }
                joined = Rebuild(first, elements);
                return true;
            default:
                joined = parts[0];
                return parts.All(part => Equals(part, parts[0]));
        }
    }

    /// <summary>Whether the value is a tuple.</summary>
    public static bool IsTuple(object? value) => value is ITuple;

    /// <summary>Element <paramref name="index"/> of a tuple (negative counts from the end).</summary>
    public static object? Element(ITuple tuple, long index, string description)
    {
        var position = index < 0 ? tuple.Length + index : index;
        if (position < 0 || position >= tuple.Length)
        {
            throw new ShapeMismatchException($"{description} has {tuple.Length} elements; index {index} is out of range.");
        }
        return tuple[(int)position];
    }

    /// <summary>A copy of the tuple with element <paramref name="index"/> replaced.</summary>
    public static object WithElement(ITuple tuple, long index, object? element, string description)
    {
        Element(tuple, index, description);
        var position = (int)(index < 0 ? tuple.Length + index : index);
        var elements = Enumerable.Range(0, tuple.Length).Select(i => i == position ? element : tuple[i]).ToArray();
        return Rebuild(tuple, elements);
    }

    /// <summary>A description of the value's structure for messages: <c>[1, 10, 64]</c> or <c>([1, 10, 64], ...)</c>.</summary>
    public static string Describe(object? value) => value switch
    {
        null => "None",
        Tensor tensor => Shapes.Format(tensor.shape),
        ITuple tuple => "(" + string.Join(", ", Enumerable.Range(0, tuple.Length).Select(i => Describe(tuple[i]))) + ")",
        _ => value.GetType().Name,
    };

    /// <summary>A tuple of the same kind as <paramref name="tuple"/> holding <paramref name="elements"/>.</summary>
    public static object Rebuild(ITuple tuple, object?[] elements)
    {
        switch (tuple)
        {
            case IStructuredOutput structured:
                return structured.WithElements(elements);
            case ArgumentTuple:
                return new ArgumentTuple(elements);
            default:
                var type = tuple.GetType();
                if (!type.IsGenericType || !type.FullName!.StartsWith("System.ValueTuple`", StringComparison.Ordinal))
                {
                    throw new InterventionException(
                        $"{type.Name} is a tuple the runtime cannot rebuild; implement {nameof(IStructuredOutput)} on it.");
                }
                return Activator.CreateInstance(type, elements)!;
        }
    }
}

/// <summary>A module's positional arguments as a tuple, as the input hooks see them.</summary>
internal sealed class ArgumentTuple(object?[] arguments) : ITuple
{
    public object?[] Arguments { get; } = arguments;

    public int Length => Arguments.Length;

    public object? this[int index] => Arguments[index];
}
