using NnSight.Models.Gpt2;
using NnSight.Models.Llama;
using NnSight.Models.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.TestSupport;

/// <summary>
/// Captures module outputs with plain TorchSharp forward hooks, keyed as the reference fixtures key them
/// (<c>path</c> for a tensor output, <c>path.0</c> and <c>path.present.key</c> for tuple elements), one list entry per call.
/// Captured tensors are copies the capture owns.
/// </summary>
public sealed class ModuleOutputs : IDisposable
{
    private readonly List<Action> _removers = [];
    private readonly Dictionary<string, List<Tensor>> _captured = new(StringComparer.Ordinal);
    private readonly CausalLanguageModel? _model;
    private readonly bool _wasEager;

    public ModuleOutputs(nn.Module root)
    {
        // Hooks of their own see attention probabilities only where they are computed: in every layer when eager.
        if (root is CausalLanguageModel model)
        {
            _model = model;
            _wasEager = model.EagerAttention;
            model.EagerAttention = true;
        }
        foreach (var (path, module) in root.named_modules())
        {
            switch (module)
            {
                case GPT2Block block:
                    _removers.Add(block.register_forward_hook((_, _, _, _, output) =>
                    {
                        Keep($"{path}.0", output.HiddenStates);
                        return output;
                    }).remove);
                    break;
                case GPT2Attention attention:
                    _removers.Add(attention.register_forward_hook((_, _, _, _, output) =>
                    {
                        Keep($"{path}.0", output.Output);
                        Keep($"{path}.present.key", output.Present.Key);
                        Keep($"{path}.present.value", output.Present.Value);
                        return output;
                    }).remove);
                    break;
                case LlamaDecoderLayer layer:
                    _removers.Add(layer.register_forward_hook((_, _, _, _, _, output) =>
                    {
                        Keep($"{path}.0", output.HiddenStates);
                        return output;
                    }).remove);
                    break;
                case LlamaAttention attention:
                    _removers.Add(attention.register_forward_hook((_, _, _, _, _, output) =>
                    {
                        Keep($"{path}.0", output.Output);
                        Keep($"{path}.1", output.Weights);
                        Keep($"{path}.present.key", output.Present.Key);
                        Keep($"{path}.present.value", output.Present.Value);
                        return output;
                    }).remove);
                    break;
                case LlamaRotaryEmbedding rotary:
                    _removers.Add(rotary.register_forward_hook((_, _, _, output) =>
                    {
                        Keep($"{path}.0", output.Cos);
                        Keep($"{path}.1", output.Sin);
                        return output;
                    }).remove);
                    break;
                case nn.Module<Tensor, Tensor> single:
                    _removers.Add(single.register_forward_hook((_, _, output) =>
                    {
                        Keep(path, output);
                        return output;
                    }).remove);
                    break;
            }
        }
    }

    /// <summary>The output of <paramref name="key"/> at call <paramref name="call"/> (0 for a single forward).</summary>
    public Tensor this[string key, int call = 0] => _captured[key][call];

    /// <summary>How many calls of <paramref name="key"/> were captured.</summary>
    public int Calls(string key) => _captured.TryGetValue(key, out var calls) ? calls.Count : 0;

    private void Keep(string key, Tensor output)
    {
        if (!_captured.TryGetValue(key, out var calls))
        {
            _captured[key] = calls = [];
        }
        calls.Add(output.detach().clone().DetachFromDisposeScope());
    }

    public void Dispose()
    {
        _removers.ForEach(remove => remove());
        if (_model is not null)
        {
            _model.EagerAttention = _wasEager;
        }
        foreach (var tensor in _captured.Values.SelectMany(calls => calls))
        {
            tensor.Dispose();
        }
    }
}
