using System.Runtime.CompilerServices;

namespace NnSight;

/// <summary>
/// A proxy of a tuple value (a block's <c>(hidden states, present)</c>): <c>[k]</c> is element k. Generated output
/// types derive from it and name the elements (<c>Output.HiddenStates</c>).
/// </summary>
public class TupleProxy
{
    /// <summary>Wraps <paramref name="proxy"/>, whose value is a tuple.</summary>
    public TupleProxy(TensorProxy proxy)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        Proxy = proxy;
    }

    /// <summary>The untyped proxy of the tuple.</summary>
    public TensorProxy Proxy { get; }

    /// <summary>Element <paramref name="index"/>; setting it replaces that element in this invocation's rows.</summary>
    public TensorProxy this[int index, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0]
    {
        get => Proxy[index, file, line];
        set => Proxy[index, file, line] = value;
    }

    /// <summary>Element <paramref name="index"/> counted from the end with <c>^</c>.</summary>
    public TensorProxy this[Index index, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0]
    {
        get => Proxy[index, file, line];
        set => Proxy[index, file, line] = value;
    }

    /// <summary>The untyped proxy, so a typed output can be assigned where a proxy is expected.</summary>
    public static implicit operator TensorProxy(TupleProxy tuple) => tuple?.Proxy ?? throw new ArgumentNullException(nameof(tuple));

    /// <summary>What the tuple stands for and its structure.</summary>
    public override string ToString() => Proxy.ToString();

    /// <summary>Element <paramref name="index"/>, for generated named elements (the line is the caller's, from the stack).</summary>
    protected TensorProxy Element(int index) => Proxy.Element(index, "", 0);

    /// <summary>Sets element <paramref name="index"/>, for generated named elements (the line is the caller's, from the stack).</summary>
    protected void SetElement(int index, TensorProxy value) => Proxy.AssignElement(index, value, "", 0);
}
