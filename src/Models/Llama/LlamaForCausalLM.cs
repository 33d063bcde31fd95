using System.Text.RegularExpressions;
using NnSight.Models.Configuration;
using NnSight.Models.Loading;
using NnSight.Models.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Llama;

/// <summary>
/// A Llama-family causal language model, HuggingFace's <c>LlamaForCausalLM</c> (and <c>MistralForCausalLM</c>,
/// <c>Qwen2ForCausalLM</c>): <c>model</c> then <c>lm_head</c>, tied to <c>model.embed_tokens</c> when
/// <c>tie_word_embeddings</c> is true. Module names and state_dict keys are HuggingFace's; module class names carry
/// the family's prefix.
/// </summary>
public sealed partial class LlamaForCausalLM : CausalLanguageModel
{
    private readonly LlamaModel model;
    private readonly Linear lm_head;

    private readonly LlamaConfig _config;

    /// <summary>Creates a randomly initialised model on <paramref name="device"/> with parameters of <paramref name="dtype"/>.</summary>
    /// <exception cref="ConfigException">The config holds a value this implementation does not support.</exception>
    public LlamaForCausalLM(LlamaConfig config, Device? device = null, ScalarType? dtype = null)
        : base((config ?? throw new ArgumentNullException(nameof(config))).ClassPrefix + "ForCausalLM")
    {
        config.Validate();
        _config = config;
        model = new LlamaModel(config, device, dtype);
        lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
        TieWeights();
        eval();
    }

    /// <inheritdoc />
    public override PretrainedConfig Config => _config;

    /// <inheritdoc />
    internal override CheckpointLayout CheckpointLayout => new(
        BasePrefix: "model.",
        IgnoredTensors: RotaryBuffers(),
        TransposedWeights: null,
        TiedTensors: _config.TieWordEmbeddings ? ["lm_head.weight"] : []);

    /// <inheritdoc />
    protected override nn.Module<Tensor, KeyValueCache?, Tensor?, Tensor?, (Tensor LastHiddenState, KeyValueCache PastKeyValues)> BaseModel => model;

    /// <inheritdoc />
    protected override Linear LanguageModelHead => lm_head;

    /// <inheritdoc />
    protected override Embedding TokenEmbedding => model.TokenEmbedding;

    /// <inheritdoc />
    public override IShapeRules ShapeRules => new LlamaShapeRules(_config, lm_head.weight!.dtype);

    /// <summary>The rotary inverse-frequency buffers older checkpoints stored (HuggingFace recomputes them too).</summary>
    [GeneratedRegex(@"\.rotary_emb\.inv_freq$")]
    private static partial Regex RotaryBuffers();
}
