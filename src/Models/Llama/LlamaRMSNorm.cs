using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Llama;

/// <summary>
/// Root-mean-square normalisation with a learned scale, as HuggingFace's <c>LlamaRMSNorm</c>: computed in float32,
/// cast back to the input dtype, then scaled by <c>weight</c>.
/// </summary>
public sealed class LlamaRMSNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _epsilon;

    /// <summary>Creates the norm over <paramref name="width"/> features.</summary>
    public LlamaRMSNorm(LlamaConfig config, int width, Device? device = null, ScalarType? dtype = null)
        : base(config.ClassPrefix + "RMSNorm")
    {
        weight = nn.Parameter(ones(width, dtype: dtype, device: device));
        _epsilon = config.RmsNormEps;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor hiddenStates)
    {
        if (SkippedForward.TryTake<Tensor>(this, out var skipped))
        {
            return skipped;
        }

        using var scope = NewDisposeScope();
        var wide = hiddenStates.to_type(ScalarType.Float32);
        var normalized = wide * (wide.pow(2).mean([-1], keepdim: true) + _epsilon).rsqrt();
        return (weight * normalized.to_type(hiddenStates.dtype)).MoveToOuterDisposeScope();
    }
}
