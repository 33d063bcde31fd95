using NnSight.Models.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Gpt2;

/// <summary>
/// GPT-2's causal self-attention. When a run observes <c>attn_dropout</c> (or the module is training, or the config
/// scales or upcasts the scores its own way) it is computed eagerly as HuggingFace 4.36's <c>GPT2Attention._attn</c>:
/// the probabilities pass through <c>attn_dropout</c>, so a hook there reads or replaces them. Otherwise libtorch's
/// fused scaled-dot-product attention computes the same values without materialising the probabilities. Returns the
/// projected output and the present (key, value) for the cache.
/// </summary>
/// <remarks>
/// Inputs: hidden states <c>[batch, positions, n_embd]</c>, the cached (key, value) of earlier positions or null, and
/// the additive attention mask <c>[batch, 1, 1, past + positions]</c> (0 where attended, the dtype's minimum where
/// masked) or null.
/// </remarks>
public sealed class GPT2Attention : nn.Module<Tensor, (Tensor Key, Tensor Value)?, Tensor?, (Tensor Output, (Tensor Key, Tensor Value) Present)>, IObservableAttention
{
    private readonly Linear c_attn;
    private readonly Linear c_proj;
    private readonly Dropout attn_dropout;
    private readonly Dropout resid_dropout;

    private readonly int _embedDim;
    private readonly int _numHeads;
    private readonly int _headDim;
    private readonly double _inverseLayerScale;
    private readonly bool _scaleByHeadDim;
    private readonly bool _upcast;

    /// <summary>Creates the attention of block <paramref name="layerIndex"/> on <paramref name="device"/>.</summary>
    public GPT2Attention(GPT2Config config, int layerIndex, Device? device = null, ScalarType? dtype = null)
        : base(nameof(GPT2Attention))
    {
        _embedDim = config.NEmbd;
        _numHeads = config.NHead;
        _headDim = config.HeadDim;
        _scaleByHeadDim = config.ScaleAttnWeights;
        _inverseLayerScale = config.ScaleAttnByInverseLayerIdx ? layerIndex + 1 : 1.0;
        _upcast = config.ReorderAndUpcastAttn;

        c_attn = nn.Linear(_embedDim, 3 * _embedDim, hasBias: true, device: device, dtype: dtype);
        c_proj = nn.Linear(_embedDim, _embedDim, hasBias: true, device: device, dtype: dtype);
        attn_dropout = nn.Dropout(config.AttnPdrop);
        resid_dropout = nn.Dropout(config.ResidPdrop);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override (Tensor Output, (Tensor Key, Tensor Value) Present) forward(
        Tensor hiddenStates, (Tensor Key, Tensor Value)? layerPast, Tensor? attentionMask)
    {
        if (SkippedForward.TryTake<(Tensor Output, (Tensor Key, Tensor Value) Present)>(this, out var skipped))
        {
            return skipped;
        }

        using var scope = NewDisposeScope();
        var qkv = c_attn.call(hiddenStates).split(_embedDim, dim: 2);
        var query = SplitHeads(qkv[0]);
        var key = SplitHeads(qkv[1]);
        var value = SplitHeads(qkv[2]);
        if (layerPast is var (pastKey, pastValue))
        {
            key = cat([pastKey, key], dim: -2);
            value = cat([pastValue, value], dim: -2);
        }

        var context = Attend(query, key, value, attentionMask);
        var output = resid_dropout.call(c_proj.call(MergeHeads(context)));
        return (output.MoveToOuterDisposeScope(), (key.MoveToOuterDisposeScope(), value.MoveToOuterDisposeScope()));
    }

    /// <inheritdoc />
    bool IObservableAttention.Eager { get; set; }

    /// <inheritdoc />
    bool IObservableAttention.ObservedBy(string path, IReadOnlySet<string> accessed) => accessed.Contains(path + ".attn_dropout");

    private Tensor Attend(Tensor query, Tensor key, Tensor value, Tensor? attentionMask)
    {
        var queryLength = query.shape[^2];
        var keyLength = key.shape[^2];
        if (!((IObservableAttention)this).Eager && !training && _scaleByHeadDim && _inverseLayerScale == 1.0 && !_upcast)
        {
            if (queryLength == 1)
            {
                // A generation step: the one query, at the last position, sees every key, so only padding is masked.
                return nn.functional.scaled_dot_product_attention(query, key, value,
                    attentionMask ?? zeros(1, keyLength, dtype: query.dtype, device: query.device));
            }
            // The causal mask ends at the last key (a query sees its own position and the past), as the eager path's.
            var blocked = full([], finfo(query.dtype).min, dtype: query.dtype, device: query.device);
            var mask = where(ones(queryLength, keyLength, dtype: ScalarType.Bool, device: query.device).tril(keyLength - queryLength),
                zeros([], dtype: query.dtype, device: query.device), blocked);
            return nn.functional.scaled_dot_product_attention(query, key, value, attentionMask is null ? mask : mask + attentionMask);
        }
        var scores = _upcast
            ? matmul(query.to_type(ScalarType.Float32), key.to_type(ScalarType.Float32).transpose(-1, -2))
            : matmul(query, key.transpose(-1, -2));
        if (_scaleByHeadDim)
        {
            scores = scores / Math.Sqrt(value.shape[^1]);
        }
        if (_inverseLayerScale != 1.0)
        {
            scores = scores / _inverseLayerScale;
        }

        var causal = ones(queryLength, keyLength, dtype: ScalarType.Bool, device: scores.device).tril(keyLength - queryLength);
        var maskValue = full([], finfo(scores.dtype).min, dtype: scores.dtype, device: scores.device);
        scores = where(causal, scores, maskValue);
        if (attentionMask is not null)
        {
            scores = scores + attentionMask;
        }

        var probabilities = nn.functional.softmax(scores, dim: -1).to_type(value.dtype);
        probabilities = attn_dropout.call(probabilities);
        return matmul(probabilities, value);
    }

    private Tensor SplitHeads(Tensor tensor) =>
        tensor.view(tensor.shape[0], tensor.shape[1], _numHeads, _headDim).permute(0, 2, 1, 3);

    private Tensor MergeHeads(Tensor tensor) =>
        tensor.permute(0, 2, 1, 3).contiguous().view(tensor.shape[0], tensor.shape[2], _numHeads * _headDim);
}
