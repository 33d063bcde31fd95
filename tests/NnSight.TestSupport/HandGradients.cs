using NnSight.Models;
using NnSight.Models.Gpt2;
using NnSight.Models.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.TestSupport;

/// <summary>
/// A forward pass with autograd, written the plain TorchSharp way, as a reference for <c>.Grad</c>: forward hooks keep
/// module outputs (a block's hidden states, any other module's tensor output) and <c>retain_grad()</c> them. Disposing
/// it releases them and clears the model's parameter gradients.
/// </summary>
public sealed class HandGradients : IDisposable
{
    private readonly LanguageModel _model;
    private readonly Dictionary<string, Tensor> _kept = new(StringComparer.Ordinal);

    /// <summary>Runs the forward pass over one row of <paramref name="ids"/>, keeping the outputs of <paramref name="paths"/>.</summary>
    public HandGradients(LanguageModel model, long[] ids, params string[] paths)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        var removers = paths.Select(path => Keep(model.ModuleAt(path), output => _kept[path] = output)).ToList();
        try
        {
            using var gradMode = enable_grad();
            using var batch = model.Batch([ids]);
            using var positions = TokenBatch.PositionIds(batch.AttentionMask);
            using var output = model.Module.call(batch.InputIds, null, batch.AttentionMask, positions, 0);
            Logits = output.Logits.alias().DetachFromDisposeScope();
        }
        finally
        {
            removers.ForEach(remove => remove());
        }
    }

    /// <summary>The logits of the forward pass, with their autograd history.</summary>
    public Tensor Logits { get; }

    /// <summary>The kept output of <paramref name="path"/>; after a backward, its <c>.grad</c> is filled.</summary>
    public Tensor this[string path] => _kept[path];

    /// <summary>The gradients of <paramref name="loss"/> at the outputs of <paramref name="paths"/>, as copies the caller owns.</summary>
    public static Dictionary<string, Tensor> Of(LanguageModel model, long[] ids, Func<Tensor, Tensor> loss, params string[] paths)
    {
        ArgumentNullException.ThrowIfNull(loss);
        using var run = new HandGradients(model, ids, paths);
        loss(run.Logits).backward();
        return paths.ToDictionary(path => path, path => run[path].grad!.clone().DetachFromDisposeScope(), StringComparer.Ordinal);
    }

    /// <summary>Releases the kept tensors and the autograd graph, and clears the parameter gradients.</summary>
    public void Dispose()
    {
        foreach (var tensor in _kept.Values.Append(Logits))
        {
            tensor.Dispose();
        }
        _model.ZeroGrad();
    }

    private static Action Keep(nn.Module module, Action<Tensor> keep)
    {
        // The model disposes its intermediate handles; the kept one leaves their dispose scope and is disposed here.
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
