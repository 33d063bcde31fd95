using NnSight.Models.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Gpt2;

/// <summary>GPT-2's feed-forward layer: <c>c_fc</c> → <c>act</c> → <c>c_proj</c> → <c>dropout</c>.</summary>
public sealed class GPT2MLP : nn.Module<Tensor, Tensor>
{
    private readonly Linear c_fc;
    private readonly Linear c_proj;
    private readonly nn.Module<Tensor, Tensor> act;
    private readonly Dropout dropout;

    /// <summary>Creates the MLP of width <see cref="GPT2Config.InnerDim"/> on <paramref name="device"/>.</summary>
    public GPT2MLP(GPT2Config config, Device? device = null, ScalarType? dtype = null) : base(nameof(GPT2MLP))
    {
        c_fc = nn.Linear(config.NEmbd, config.InnerDim, hasBias: true, device: device, dtype: dtype);
        c_proj = nn.Linear(config.InnerDim, config.NEmbd, hasBias: true, device: device, dtype: dtype);
        act = Activations.Create(config.ActivationFunction);
        dropout = nn.Dropout(config.ResidPdrop);
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
        var output = dropout.call(c_proj.call(act.call(c_fc.call(hiddenStates))));
        return output.MoveToOuterDisposeScope();
    }
}
