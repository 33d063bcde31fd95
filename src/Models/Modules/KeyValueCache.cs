using System.Collections;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace NnSight.Models.Modules;

/// <summary>
/// The attention keys and values of every layer, as HuggingFace's legacy tuple cache: one (key, value) pair per
/// layer, each <c>[batch, heads, positions, head_dim]</c>. The cache owns its tensors; disposing it frees them.
/// </summary>
public sealed class KeyValueCache : IReadOnlyList<(Tensor Key, Tensor Value)>, IStructuredOutput, IDisposable
{
    private readonly (Tensor Key, Tensor Value)[] _layers;

    /// <summary>Creates a cache that takes ownership of <paramref name="layers"/>.</summary>
    public KeyValueCache(IEnumerable<(Tensor Key, Tensor Value)> layers)
    {
        _layers = [.. layers];
    }

    /// <summary>The number of layers.</summary>
    public int Count => _layers.Length;

    /// <summary>The number of layers (as a tuple of per-layer (key, value) pairs).</summary>
    public int Length => _layers.Length;

    object? ITuple.this[int index] => _layers[index];

    /// <summary>The positions held, read from the first layer's keys (0 for an empty cache).</summary>
    public long SequenceLength => _layers.Length == 0 ? 0 : _layers[0].Key.shape[^2];

    /// <summary>The key and value of layer <paramref name="index"/>.</summary>
    public (Tensor Key, Tensor Value) this[int index] => _layers[index];

    /// <summary>Moves every tensor out of the current dispose scope, for a cache that outlives a forward pass.</summary>
    public KeyValueCache MoveToOuterDisposeScope()
    {
        foreach (var (key, value) in _layers)
        {
            key.MoveToOuterDisposeScope();
            value.MoveToOuterDisposeScope();
        }
        return this;
    }

    /// <inheritdoc />
    public IStructuredOutput WithElements(IReadOnlyList<object?> elements) =>
        new KeyValueCache(elements.Select(element => ((Tensor, Tensor))element!));

    /// <inheritdoc />
    public IEnumerator<(Tensor Key, Tensor Value)> GetEnumerator() => ((IEnumerable<(Tensor, Tensor)>)_layers).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Disposes every key and value tensor.</summary>
    public void Dispose()
    {
        foreach (var (key, value) in _layers)
        {
            key.Dispose();
            value.Dispose();
        }
    }
}
