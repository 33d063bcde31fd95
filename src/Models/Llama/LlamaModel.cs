using NnSight.Models.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Llama;

/// <summary>
/// The decoder stack (<c>model</c>): token embedding, the layers, and the final RMSNorm <c>norm</c>. Returns (last
/// hidden state after <c>norm</c>, present key/value cache).
/// </summary>
public sealed class LlamaModel : nn.Module<Tensor, KeyValueCache?, Tensor?, Tensor?, (Tensor LastHiddenState, KeyValueCache PastKeyValues)>
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly LlamaRMSNorm norm;

    private readonly int? _slidingWindow;

    /// <summary>Creates the decoder stack.</summary>
    public LlamaModel(LlamaConfig config, Device? device = null, ScalarType? dtype = null) : base(config.ClassPrefix + "Model")
    {
        embed_tokens = Embeddings.Create(config.VocabSize, config.HiddenSize, device, dtype);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new LlamaDecoderLayer(config, device, dtype)).ToArray());
        norm = new LlamaRMSNorm(config, config.HiddenSize, device, dtype);
        _slidingWindow = config.SlidingWindowSize;
        RegisterComponents();
    }

    /// <summary>The token embedding, whose weight a tied language-model head shares.</summary>
    internal Embedding TokenEmbedding => embed_tokens;

    /// <inheritdoc />
    public override (Tensor LastHiddenState, KeyValueCache PastKeyValues) forward(
        Tensor inputIds, KeyValueCache? pastKeyValues, Tensor? attentionMask, Tensor? positionIds)
    {
        using var scope = NewDisposeScope();
        var pastLength = pastKeyValues?.SequenceLength ?? 0;
        var newLength = inputIds.shape[^1];
        if (_slidingWindow is { } window && pastLength + newLength > window)
        {
            throw new ArgumentOutOfRangeException(nameof(inputIds),
                $"model: the sequence has {pastLength + newLength} positions, past sliding_window = {window} (config.json); " +
                "this implementation attends to every earlier position and so refuses sequences the window would cut.");
        }
        positionIds ??= arange(pastLength, pastLength + newLength, dtype: ScalarType.Int64, device: inputIds.device).expand(inputIds.shape[0], newLength);

        var hiddenStates = embed_tokens.call(inputIds);
        var mask = AdditiveCausalMask(attentionMask, inputIds.shape[0], newLength, pastLength, hiddenStates.dtype, inputIds.device);
        var presents = new List<(Tensor Key, Tensor Value)>(layers.Count);
        for (var layer = 0; layer < layers.Count; layer++)
        {
            (hiddenStates, var present) = layers[layer].call(hiddenStates, mask, positionIds, pastKeyValues?[layer]);
            presents.Add(present);
        }
        var lastHiddenState = norm.call(hiddenStates);
        return (lastHiddenState.MoveToOuterDisposeScope(), new KeyValueCache(presents).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// HuggingFace's 4-D mask <c>[batch, 1, new, past + new]</c>: 0 where a position may attend, the dtype's minimum
    /// where the key is later than the query or is padding.
    /// </summary>
    private static Tensor AdditiveCausalMask(Tensor? attentionMask, long batch, long newLength, long pastLength, ScalarType dtype, Device device)
    {
        var keys = arange(pastLength + newLength, dtype: ScalarType.Int64, device: device);
        var queries = arange(pastLength, pastLength + newLength, dtype: ScalarType.Int64, device: device);
        var allowed = keys.unsqueeze(0).le(queries.unsqueeze(1)).view(1, 1, newLength, pastLength + newLength);
        if (attentionMask is not null)
        {
            allowed = allowed.logical_and(attentionMask.ne(0).view(attentionMask.shape[0], 1, 1, attentionMask.shape[^1]));
        }
        var blocked = full([], finfo(dtype).min, dtype: dtype, device: device);
        return where(allowed, zeros([], dtype: dtype, device: device), blocked).expand(batch, 1, newLength, pastLength + newLength);
    }
}
