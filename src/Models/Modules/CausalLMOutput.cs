using static TorchSharp.torch;

namespace NnSight.Models.Modules;

/// <summary>
/// The output of a causal language model's forward pass, like HuggingFace's <c>CausalLMOutputWithPast</c>:
/// element 0 is the logits and element 1 the key/value cache, so <c>output[0]</c> reads as it does in Python.
/// The caller owns the tensors; disposing the output frees them.
/// </summary>
/// <param name="Logits">The next-token logits, <c>[batch, positions, vocab]</c>.</param>
/// <param name="PastKeyValues">The keys and values of every layer, for the next step of generation.</param>
public sealed record CausalLMOutput(Tensor Logits, KeyValueCache PastKeyValues) : IStructuredOutput, IDisposable
{
    /// <summary>Two elements: logits and the cache.</summary>
    public int Length => 2;

    /// <summary>Element <paramref name="index"/>: 0 is <see cref="Logits"/>, 1 is <see cref="PastKeyValues"/>.</summary>
    public object? this[int index] => index switch
    {
        0 => Logits,
        1 => PastKeyValues,
        _ => throw new IndexOutOfRangeException($"CausalLMOutput has 2 elements (logits, past_key_values); index {index} is out of range."),
    };

    /// <inheritdoc />
    public IStructuredOutput WithElements(IReadOnlyList<object?> elements) =>
        new CausalLMOutput((Tensor)elements[0]!, (KeyValueCache)elements[1]!);

    /// <summary>Moves the logits and cache out of the current dispose scope.</summary>
    public CausalLMOutput MoveToOuterDisposeScope()
    {
        Logits.MoveToOuterDisposeScope();
        PastKeyValues.MoveToOuterDisposeScope();
        return this;
    }

    /// <summary>Disposes the logits and the cache.</summary>
    public void Dispose()
    {
        Logits.Dispose();
        PastKeyValues.Dispose();
    }
}
