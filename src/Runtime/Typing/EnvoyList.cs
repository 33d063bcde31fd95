using System.Collections;

namespace NnSight;

/// <summary>A typed module list (<c>transformer.h</c>): elements by <c>[i]</c> or <c>[^i]</c>, each a typed envoy.</summary>
/// <typeparam name="T">The envoy type of the elements.</typeparam>
public sealed class EnvoyList<T> : IReadOnlyList<T>
    where T : Envoy
{
    private readonly T[] _elements;

    /// <summary>Wraps the untyped list envoy <paramref name="list"/>, typing each element with <paramref name="wrap"/>.</summary>
    public EnvoyList(Envoy list, Func<Envoy, T> wrap)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(wrap);
        Envoy = list;
        _elements = [.. list.Children.Select(wrap)];
    }

    /// <summary>The untyped envoy of the list.</summary>
    public Envoy Envoy { get; }

    /// <summary>The list's path.</summary>
    public string Path => Envoy.Path;

    /// <summary>The number of modules.</summary>
    public int Count => _elements.Length;

    /// <summary>Element <paramref name="index"/>; <c>^1</c> is the last.</summary>
    /// <exception cref="ModuleNotFoundException">The index is outside the list.</exception>
    public T this[Index index]
    {
        get
        {
            _ = Envoy[index];
            return _elements[index.GetOffset(_elements.Length)];
        }
    }

    T IReadOnlyList<T>.this[int index] => _elements[index];

    /// <inheritdoc />
    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_elements).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The untyped envoy of the list, so a list can be passed where an envoy is expected (<c>tracer.Cache(model.Transformer.H)</c>).</summary>
    public static implicit operator Envoy(EnvoyList<T> list) => (list ?? throw new ArgumentNullException(nameof(list))).Envoy;

    /// <summary>The list's module tree, as PyTorch prints it.</summary>
    public override string ToString() => Envoy.ToString();
}
