using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Models.Llama;

/// <summary>
/// One decoder layer: pre-RMSNorm residual attention, then pre-RMSNorm residual MLP. Returns (hidden states, present)
/// as HuggingFace 4.36's <c>LlamaDecoderLayer</c> does with the cache on: element 0 is the residual stream after the layer.
/// </summary>
public sealed class LlamaDecoderLayer : nn.Module<Tensor, Tensor, Tensor, (Tensor Key, Tensor Value)?, (Tensor HiddenStates, (Tensor Key, Tensor Value) Present)>
{
    private readonly LlamaAttention self_attn;
    private readonly LlamaMLP mlp;
    private readonly LlamaRMSNorm input_layernorm;
    private readonly LlamaRMSNorm post_attention_layernorm;

    /// <summary>Creates one layer.</summary>
    public LlamaDecoderLayer(LlamaConfig config, Device? device = null, ScalarType? dtype = null) : base(config.ClassPrefix + "DecoderLayer")
    {
        self_attn = new LlamaAttention(config, device, dtype);
        mlp = new LlamaMLP(config, device, dtype);
        input_layernorm = new LlamaRMSNorm(config, config.HiddenSize, device, dtype);
        post_attention_layernorm = new LlamaRMSNorm(config, config.HiddenSize, device, dtype);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override (Tensor HiddenStates, (Tensor Key, Tensor Value) Present) forward(
        Tensor hiddenStates, Tensor attentionMask, Tensor positionIds, (Tensor Key, Tensor Value)? layerPast)
    {
        if (SkippedForward.TryTake<(Tensor HiddenStates, (Tensor Key, Tensor Value) Present)>(this, out var skipped))
        {
            return skipped;
        }

        using var scope = NewDisposeScope();
        var (attended, _, present) = self_attn.call(input_layernorm.call(hiddenStates), attentionMask, positionIds, layerPast);
        var residual = hiddenStates + attended;
        var output = residual + mlp.call(post_attention_layernorm.call(residual));
        return (output.MoveToOuterDisposeScope(), (present.Key.MoveToOuterDisposeScope(), present.Value.MoveToOuterDisposeScope()));
    }
}
