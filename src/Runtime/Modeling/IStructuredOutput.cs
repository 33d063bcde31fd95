using System.Runtime.CompilerServices;

namespace NnSight;

/// <summary>
/// A module output made of elements (like HuggingFace's <c>ModelOutput</c> or a key/value cache) that the runtime can
/// index, slice by rows and rebuild. Value tuples need no interface: the runtime handles them.
/// </summary>
public interface IStructuredOutput : ITuple
{
    /// <summary>An output of the same kind holding <paramref name="elements"/> (as many as <see cref="ITuple.Length"/>).</summary>
    IStructuredOutput WithElements(IReadOnlyList<object?> elements);
}
