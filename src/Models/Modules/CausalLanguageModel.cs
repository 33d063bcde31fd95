using NnSight.Models.Configuration;
using NnSight.Models.Loading;
using TorchSharp;
using TorchSharp.Modules;
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
    // Before any model runs a matrix product (see MklKernels).
    static CausalLanguageModel() => MklKernels.SelectOnOtherVendors();

    /// <summary>Creates the root module with the PyTorch class name <paramref name="name"/>.</summary>
    protected CausalLanguageModel(string name) : base(name)
    {
    }

    /// <summary>The configuration the module was built from.</summary>
    public abstract PretrainedConfig Config { get; }

    /// <summary>How checkpoint tensor names and layouts map onto this module's state_dict.</summary>
    internal abstract CheckpointLayout CheckpointLayout { get; }

    /// <summary>The output and input shapes of every module, from the config, for proxies' <c>shape</c>.</summary>
    public abstract IShapeRules ShapeRules { get; }

    /// <summary>The path of the language-model head, whose output generation computes for the last position only
    /// unless it is observed.</summary>
    public virtual string HeadPath => "lm_head";

    /// <summary>The base model (<c>transformer</c>, <c>model</c>): token ids to the last hidden state and the cache.</summary>
    protected abstract nn.Module<Tensor, KeyValueCache?, Tensor?, Tensor?, (Tensor LastHiddenState, KeyValueCache PastKeyValues)> BaseModel { get; }

    /// <summary>The language-model head, hidden states to logits.</summary>
    protected abstract Linear LanguageModelHead { get; }

    /// <summary>The token embedding, whose weight a tied head shares.</summary>
    protected abstract Embedding TokenEmbedding { get; }

    private IReadOnlyList<(string Path, IObservableAttention Module)>? _attention;
    private bool _eagerAttention;

    private IReadOnlyList<(string Path, IObservableAttention Module)> Attention =>
        _attention ??= [.. named_modules().Where(pair => pair.module is IObservableAttention)
            .Select(pair => (pair.name, (IObservableAttention)pair.module))];

    /// <summary>
    /// Whether every attention module computes its probabilities on every run, as HuggingFace's
    /// <c>attn_implementation="eager"</c>: set it when TorchSharp hooks of your own read attention probabilities. By
    /// default a run computes them only in the modules it observes (an NnSight trace knows which), and libtorch's fused
    /// scaled-dot-product kernel computes the others.
    /// </summary>
    public bool EagerAttention
    {
        get => _eagerAttention;
        set
        {
            _eagerAttention = value;
            foreach (var (_, module) in Attention)
            {
                module.Eager = value;
            }
        }
    }

    /// <summary>
    /// Makes the attention modules whose probabilities a run observes (it reads or writes <paramref name="accessed"/>)
    /// compute them eagerly, until disposed; every other attention module uses the fused kernel.
    /// </summary>
    internal IDisposable ObserveAttention(IReadOnlySet<string> accessed)
    {
        var eager = Attention.Where(attention => !attention.Module.Eager && attention.Module.ObservedBy(attention.Path, accessed))
            .Select(attention => attention.Module).ToList();
        eager.ForEach(module => module.Eager = true);
        return new EagerAttentionScope(eager);
    }

    private sealed class EagerAttentionScope(List<IObservableAttention> modules) : IDisposable
    {
        public void Dispose() => modules.ForEach(module => module.Eager = false);
    }

    /// <summary>Makes the head share the token embedding's weight when <c>tie_word_embeddings</c> is true.</summary>
    internal void TieWeights()
    {
        if (Config.TieWordEmbeddings)
        {
            LanguageModelHead.weight = TokenEmbedding.weight
                ?? throw new CheckpointException($"The token embedding has no weight to tie {HeadPath} to.");
        }
    }

    /// <inheritdoc />
    public override CausalLMOutput forward(
        Tensor inputIds, KeyValueCache? pastKeyValues, Tensor? attentionMask, Tensor? positionIds, int logitsToKeep)
    {
        using var scope = NewDisposeScope();
        var (hiddenStates, presents) = BaseModel.call(inputIds, pastKeyValues, attentionMask, positionIds);
        if (logitsToKeep > 0 && logitsToKeep < hiddenStates.shape[1])
        {
            hiddenStates = hiddenStates.narrow(1, hiddenStates.shape[1] - logitsToKeep, logitsToKeep);
        }
        var logits = LanguageModelHead.call(hiddenStates);
        return new CausalLMOutput(logits, presents).MoveToOuterDisposeScope();
    }
}
