using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Gpt2;

/// <summary>
/// One GPT-2 transformer block (pre-LayerNorm residual attention then MLP). Returns (hidden states, present) as
/// HuggingFace 4.36's <c>GPT2Block</c> does: element 0 is the residual stream after the block.
/// </summary>
public sealed class GPT2Block : nn.Module<Tensor, (Tensor Key, Tensor Value)?, Tensor?, (Tensor HiddenStates, (Tensor Key, Tensor Value) Present)>
{
    private readonly LayerNorm ln_1;
    private readonly GPT2Attention attn;
    private readonly LayerNorm ln_2;
    private readonly GPT2MLP mlp;

    /// <summary>Creates block <paramref name="layerIndex"/> on <paramref name="device"/>.</summary>
    public GPT2Block(GPT2Config config, int layerIndex, Device? device = null, ScalarType? dtype = null)
        : base(nameof(GPT2Block))
    {
        ln_1 = nn.LayerNorm(config.NEmbd, eps: config.LayerNormEpsilon, device: device, dtype: dtype);
        attn = new GPT2Attention(config, layerIndex, device, dtype);
        ln_2 = nn.LayerNorm(config.NEmbd, eps: config.LayerNormEpsilon, device: device, dtype: dtype);
        mlp = new GPT2MLP(config, device, dtype);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override (Tensor HiddenStates, (Tensor Key, Tensor Value) Present) forward(
        Tensor hiddenStates, (Tensor Key, Tensor Value)? layerPast, Tensor? attentionMask)
    {
        if (SkippedForward.TryTake<(Tensor HiddenStates, (Tensor Key, Tensor Value) Present)>(this, out var skipped))
        {
            return skipped;
        }

        using var scope = NewDisposeScope();
        var (attnOutput, present) = attn.call(ln_1.call(hiddenStates), layerPast, attentionMask);
        var residual = attnOutput + hiddenStates;
        var output = residual + mlp.call(ln_2.call(residual));
        return (output.MoveToOuterDisposeScope(), (present.Key.MoveToOuterDisposeScope(), present.Value.MoveToOuterDisposeScope()));
    }
}
