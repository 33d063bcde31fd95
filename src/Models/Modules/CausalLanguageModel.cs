using NnSight.Models.Configuration;
using NnSight.Models.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Models.Modules;

/// <summary>
/// The root module of a causal language model (HuggingFace's <c>*ForCausalLM</c> / <c>*LMHeadModel</c>). Its forward
/// takes <c>(input_ids, past_key_values, attention_mask, position_ids, logits_to_keep)</c> in HuggingFace's order and
/// returns the logits and the new key/value cache.
/// </summary>
/// <remarks>
/// <c>attention_mask</c> is the 2-D <c>[batch, past + new positions]</c> mask of ones and zeros; <c>position_ids</c>
/// is <c>[batch, new positions]</c>; <c>logits_to_keep</c> = 0 computes logits for every position, k &gt; 0 for the
/// last k only (generation needs only the last one).
/// </remarks>
public abstract class CausalLanguageModel : nn.Module<Tensor, KeyValueCache?, Tensor?, Tensor?, int, CausalLMOutput>
{
    /// <summary>Creates the root module with the PyTorch class name <paramref name="name"/>.</summary>
    protected CausalLanguageModel(string name) : base(name)
    {
    }

    /// <summary>The configuration the module was built from.</summary>
    public abstract PretrainedConfig Config { get; }

    /// <summary>How checkpoint tensor names and layouts map onto this module's state_dict.</summary>
    public abstract CheckpointLayout CheckpointLayout { get; }

    /// <summary>The output and input shapes of every module, from the config, for proxies' <c>shape</c>.</summary>
    public abstract IShapeRules ShapeRules { get; }

    /// <summary>The path of the language-model head, whose output generation computes for the last position only
    /// unless it is observed.</summary>
    public virtual string HeadPath => "lm_head";

    /// <summary>Ties weights that the architecture shares (the language-model head and the token embedding).</summary>
    public abstract void TieWeights();
}
