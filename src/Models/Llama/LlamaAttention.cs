using NnSight.Models.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Llama;

/// <summary>
/// Grouped-query self-attention with rotary position embeddings. When a run observes this module it is computed
/// eagerly as HuggingFace 4.36's <c>LlamaAttention</c> with <c>output_attentions</c>: returns (output after
/// <c>o_proj</c>, attention probabilities <c>[batch, heads, positions, past + positions]</c>, present (key, value)).
/// Otherwise libtorch's fused scaled-dot-product attention computes the output without the probabilities, and
/// <c>Weights</c> is an empty tensor nobody reads. Query head <c>h</c> reads key/value head
/// <c>h / (heads / key_value_heads)</c>; the cache keeps the key/value heads unrepeated, keys after rotation.
/// </summary>
/// <remarks>
/// Inputs: hidden states <c>[batch, positions, hidden_size]</c>; the additive mask <c>[batch, 1, positions, past +
/// positions]</c> (0 where attended, the dtype's minimum where not); position ids <c>[batch, positions]</c>;
/// the cached (key, value) of earlier positions or null.
/// </remarks>
public sealed class LlamaAttention : nn.Module<Tensor, Tensor, Tensor, (Tensor Key, Tensor Value)?, (Tensor Output, Tensor Weights, (Tensor Key, Tensor Value) Present)>, IObservableAttention
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly LlamaRotaryEmbedding rotary_emb;

    private readonly int _heads;
    private readonly int _keyValueHeads;
    private readonly int _headDim;

    /// <summary>Creates the attention of one decoder layer.</summary>
    public LlamaAttention(LlamaConfig config, Device? device = null, ScalarType? dtype = null) : base(config.ClassPrefix + "Attention")
    {
        _heads = config.NumAttentionHeads;
        _keyValueHeads = config.ResolvedKeyValueHeads;
        _headDim = config.ResolvedHeadDim;
        q_proj = nn.Linear(config.HiddenSize, _heads * _headDim, hasBias: config.QueryKeyValueBias, device: device, dtype: dtype);
        k_proj = nn.Linear(config.HiddenSize, _keyValueHeads * _headDim, hasBias: config.QueryKeyValueBias, device: device, dtype: dtype);
        v_proj = nn.Linear(config.HiddenSize, _keyValueHeads * _headDim, hasBias: config.QueryKeyValueBias, device: device, dtype: dtype);
        o_proj = nn.Linear(_heads * _headDim, config.HiddenSize, hasBias: config.OutputProjectionBias, device: device, dtype: dtype);
        rotary_emb = new LlamaRotaryEmbedding(config);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override (Tensor Output, Tensor Weights, (Tensor Key, Tensor Value) Present) forward(
        Tensor hiddenStates, Tensor attentionMask, Tensor positionIds, (Tensor Key, Tensor Value)? layerPast)
    {
        if (SkippedForward.TryTake<(Tensor Output, Tensor Weights, (Tensor Key, Tensor Value) Present)>(this, out var skipped))
        {
            return skipped;
        }

        using var scope = NewDisposeScope();
        var (batch, positions) = (hiddenStates.shape[0], hiddenStates.shape[1]);
        var query = SplitHeads(q_proj.call(hiddenStates), _heads);
        var key = SplitHeads(k_proj.call(hiddenStates), _keyValueHeads);
        var value = SplitHeads(v_proj.call(hiddenStates), _keyValueHeads);

        var (cos, sin) = rotary_emb.call(value, positionIds);
        var headCos = cos.unsqueeze(1);
        var headSin = sin.unsqueeze(1);
        query = query * headCos + RotateHalf(query) * headSin;
        key = key * headCos + RotateHalf(key) * headSin;
        if (layerPast is var (pastKey, pastValue))
        {
            key = cat([pastKey, key], dim: -2);
            value = cat([pastValue, value], dim: -2);
        }

        Tensor attended, weights;
        if (((IObservableAttention)this).Eager)
        {
            var scores = matmul(query, RepeatKeyValue(key).transpose(2, 3)) / Math.Sqrt(_headDim) + attentionMask;
            weights = nn.functional.softmax(scores, dim: -1, dtype: ScalarType.Float32).to_type(query.dtype);
            attended = matmul(weights, RepeatKeyValue(value));
        }
        else
        {
            attended = nn.functional.scaled_dot_product_attention(query, RepeatKeyValue(key), RepeatKeyValue(value), attentionMask);
            weights = empty(0, dtype: query.dtype, device: query.device);
        }
        var context = attended.transpose(1, 2).reshape(batch, positions, _heads * _headDim);
        var output = o_proj.call(context);
        return (output.MoveToOuterDisposeScope(), weights.MoveToOuterDisposeScope(),
            (key.MoveToOuterDisposeScope(), value.MoveToOuterDisposeScope()));
    }

    /// <inheritdoc />
    bool IObservableAttention.Eager { get; set; }

    /// <inheritdoc />
    bool IObservableAttention.ObservedBy(string path, IReadOnlySet<string> accessed) => accessed.Contains(path);

    private Tensor SplitHeads(Tensor projected, int heads) =>
        projected.view(projected.shape[0], projected.shape[1], heads, _headDim).transpose(1, 2);

    private static Tensor RotateHalf(Tensor states)
    {
        var halves = states.chunk(2, dim: -1);
        return cat([-halves[1], halves[0]], dim: -1);
    }

    /// <summary>Each key/value head repeated for the query heads that share it (HuggingFace's <c>repeat_kv</c>).</summary>
    private Tensor RepeatKeyValue(Tensor states)
    {
        var repeats = _heads / _keyValueHeads;
        if (repeats == 1)
        {
            return states;
        }
        var (batch, length) = (states.shape[0], states.shape[2]);
        return states.unsqueeze(2).expand(batch, _keyValueHeads, repeats, length, _headDim).reshape(batch, _heads, length, _headDim);
    }
}
