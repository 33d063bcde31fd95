using NnSight.Models.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Gpt2;

/// <summary>
/// GPT-2's transformer (<c>transformer</c>): token and learned position embeddings, the blocks <c>h</c>, and the final
/// LayerNorm <c>ln_f</c>. Returns (last hidden state after <c>ln_f</c>, present key/value cache).
/// </summary>
public sealed class GPT2Model : nn.Module<Tensor, KeyValueCache?, Tensor?, Tensor?, (Tensor LastHiddenState, KeyValueCache PastKeyValues)>
{
    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly Dropout drop;
    private readonly ModuleList<GPT2Block> h;
    private readonly LayerNorm ln_f;

    private readonly int _positions;

    /// <summary>Creates the transformer on <paramref name="device"/> with parameters of <paramref name="dtype"/>.</summary>
    public GPT2Model(GPT2Config config, Device? device = null, ScalarType? dtype = null) : base(nameof(GPT2Model))
    {
        _positions = config.NPositions;
        wte = Embeddings.Create(config.VocabSize, config.NEmbd, device, dtype);
        wpe = Embeddings.Create(config.NPositions, config.NEmbd, device, dtype);
        drop = nn.Dropout(config.EmbdPdrop);
        h = nn.ModuleList(Enumerable.Range(0, config.NLayer).Select(i => new GPT2Block(config, i, device, dtype)).ToArray());
        ln_f = nn.LayerNorm(config.NEmbd, eps: config.LayerNormEpsilon, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>The token embedding, whose weight the language-model head shares.</summary>
    internal Embedding TokenEmbedding => wte;

    /// <inheritdoc />
    public override (Tensor LastHiddenState, KeyValueCache PastKeyValues) forward(
        Tensor inputIds, KeyValueCache? pastKeyValues, Tensor? attentionMask, Tensor? positionIds)
    {
        using var scope = NewDisposeScope();
        var pastLength = pastKeyValues?.SequenceLength ?? 0;
        var newLength = inputIds.shape[^1];
        positionIds ??= arange(pastLength, pastLength + newLength, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        CheckPositions(positionIds, pastLength + newLength);

        var additiveMask = attentionMask is null ? null : AdditiveMask(attentionMask, wte.weight!.dtype);
        var hiddenStates = drop.call(wte.call(inputIds) + wpe.call(positionIds));
        var presents = new List<(Tensor Key, Tensor Value)>(h.Count);
        for (var layer = 0; layer < h.Count; layer++)
        {
            (hiddenStates, var present) = h[layer].call(hiddenStates, pastKeyValues?[layer], additiveMask);
            presents.Add(present);
        }
        var lastHiddenState = ln_f.call(hiddenStates);
        return (lastHiddenState.MoveToOuterDisposeScope(), new KeyValueCache(presents).MoveToOuterDisposeScope());
    }

    /// <summary>HuggingFace's 4-D additive mask: 0 where attended, the dtype's minimum where masked.</summary>
    private static Tensor AdditiveMask(Tensor attentionMask, ScalarType dtype)
    {
        var mask = attentionMask.view(attentionMask.shape[0], 1, 1, attentionMask.shape[^1]).to_type(dtype);
        return (1.0 - mask) * finfo(dtype).min;
    }

    private void CheckPositions(Tensor positionIds, long totalLength)
    {
        var largest = positionIds.numel() == 0 ? -1 : positionIds.max().item<long>();
        if (largest >= _positions)
        {
            throw new ArgumentOutOfRangeException(nameof(positionIds),
                $"transformer.wpe: position {largest} (sequence of {totalLength} tokens) is past n_positions = {_positions}; " +
                $"GPT-2 has learned position embeddings for positions 0..{_positions - 1} only.");
        }
    }
}
