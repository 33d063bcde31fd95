using NnSight.Models;
using NnSight.Models.Gpt2;
using NnSight.Models.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.TestSupport;

/// <summary>
/// Gradients computed the plain TorchSharp way, as a reference for <c>.Grad</c>: forward hooks keep module outputs (a
/// block's hidden states, any other module's tensor output) and <c>retain_grad()</c> them, and a backward from a loss
/// computed from the logits fills their <c>.grad</c>.
/// </summary>
public static class HandGradients
{
    /// <summary>The gradients of the loss <c>loss(logits)</c> at the outputs of <paramref name="paths"/>, for one row of ids.</summary>
    /// <returns>Copies the caller owns, by path. The model's parameter gradients are cleared afterwards.</returns>
    public static Dictionary<string, Tensor> Of(LanguageModel model, long[] ids, Func<Tensor, Tensor> loss, params string[] paths)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        var kept = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var removers = paths.Select(path => Keep(model.ModuleAt(path), output => kept[path] = output)).ToList();
        try
        {
            using var scope = NewDisposeScope();
            using var gradMode = enable_grad();
            using var batch = model.Batch([ids]);
            var positions = TokenBatch.PositionIds(batch.AttentionMask);
            using var output = model.Module.call(batch.InputIds, null, batch.AttentionMask, positions, 0);
            loss(output.Logits).backward();
            return kept.ToDictionary(pair => pair.Key, pair => pair.Value.grad!.clone().DetachFromDisposeScope(), StringComparer.Ordinal);
        }
        finally
        {
            foreach (var tensor in kept.Values)
            {
                tensor.Dispose();
            }
            removers.ForEach(remove => remove());
            model.ZeroGrad();
        }
    }

    private static Action Keep(nn.Module module, Action<Tensor> keep)
    {
        // The model disposes its intermediate handles; the kept one leaves their dispose scope.
        Tensor Retained(Tensor tensor)
        {
            tensor.retain_grad();
            keep(tensor.DetachFromDisposeScope());
            return tensor;
        }
        return module switch
        {
            GPT2Block block => block.register_forward_hook((_, _, _, _, output) => { Retained(output.HiddenStates); return output; }).remove,
            LlamaDecoderLayer layer => layer.register_forward_hook((_, _, _, _, _, output) => { Retained(output.HiddenStates); return output; }).remove,
            nn.Module<Tensor, Tensor> single => single.register_forward_hook((_, _, output) => Retained(output)).remove,
            _ => throw new ArgumentException($"No hand-written hook for {module.GetType().Name}.", nameof(module)),
        };
    }
}
