using NnSight.Models.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Llama;

/// <summary>The gated feed-forward layer: <c>down_proj(act_fn(gate_proj(x)) · up_proj(x))</c>.</summary>
public sealed class LlamaMLP : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;
    private readonly nn.Module<Tensor, Tensor> act_fn;

    /// <summary>Creates the MLP of width <see cref="LlamaConfig.IntermediateSize"/>.</summary>
    public LlamaMLP(LlamaConfig config, Device? device = null, ScalarType? dtype = null) : base(config.ClassPrefix + "MLP")
    {
        gate_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias, device: device, dtype: dtype);
        up_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias, device: device, dtype: dtype);
        down_proj = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: config.MlpBias, device: device, dtype: dtype);
        act_fn = Activations.Create(config.HiddenAct);
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
        var gate = act_fn.call(gate_proj.call(hiddenStates));
        return down_proj.call(gate * up_proj.call(hiddenStates)).MoveToOuterDisposeScope();
    }
}
