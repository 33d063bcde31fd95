using System.Text.RegularExpressions;
using NnSight.Models.Configuration;
using NnSight.Models.Loading;
using NnSight.Models.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Gpt2;

/// <summary>
/// GPT-2 with its language-model head, HuggingFace's <c>GPT2LMHeadModel</c>: <c>transformer</c> then <c>lm_head</c>
/// (tied to <c>transformer.wte</c> unless <c>tie_word_embeddings</c> is false). Module names and state_dict keys are
/// HuggingFace's; the Conv1D layers are <see cref="Linear"/> modules whose weights are transposed on load.
/// </summary>
public sealed partial class GPT2LMHeadModel : CausalLanguageModel
{
    private readonly GPT2Model transformer;
    private readonly Linear lm_head;

    private readonly GPT2Config _config;

    /// <summary>Creates a randomly initialised GPT-2 on <paramref name="device"/> with parameters of <paramref name="dtype"/>.</summary>
    /// <exception cref="ConfigException">The config holds a value this implementation does not support.</exception>
    public GPT2LMHeadModel(GPT2Config config, Device? device = null, ScalarType? dtype = null) : base(nameof(GPT2LMHeadModel))
    {
        config.Validate();
        _config = config;
        transformer = new GPT2Model(config, device, dtype);
        lm_head = nn.Linear(config.NEmbd, config.VocabSize, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
        TieWeights();
        eval();
    }

    /// <inheritdoc />
    public override PretrainedConfig Config => _config;

    /// <inheritdoc />
    internal override CheckpointLayout CheckpointLayout => new(
        BasePrefix: "transformer.",
        IgnoredTensors: IgnoredBuffers(),
        TransposedWeights: Conv1DWeights(),
        TiedTensors: _config.TieWordEmbeddings ? ["lm_head.weight"] : []);

    /// <inheritdoc />
    protected override nn.Module<Tensor, KeyValueCache?, Tensor?, Tensor?, (Tensor LastHiddenState, KeyValueCache PastKeyValues)> BaseModel => transformer;

    /// <inheritdoc />
    protected override Linear LanguageModelHead => lm_head;

    /// <inheritdoc />
    protected override Embedding TokenEmbedding => transformer.TokenEmbedding;

    /// <inheritdoc />
    public override IShapeRules ShapeRules => new GPT2ShapeRules(_config, lm_head.weight!.dtype);

    /// <summary>The causal-mask buffers older checkpoints stored (HuggingFace ignores them on load too).</summary>
    [GeneratedRegex(@"^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$")]
    private static partial Regex IgnoredBuffers();

    /// <summary>HuggingFace's Conv1D layers store their weight as [in, out].</summary>
    [GeneratedRegex(@"\.(c_attn|c_proj|c_fc)\.weight$")]
    private static partial Regex Conv1DWeights();
}
