using System.Globalization;
using System.Text.Json.Serialization;
using NnSight.Models.Configuration;
using NnSight.Models.Modules;

namespace NnSight.Models.Llama;

/// <summary>
/// A Llama <c>config.json</c>: every key of HuggingFace's <c>LlamaConfig</c> with its defaults (Llama 2 7B). Mistral
/// and Qwen2 derive from it, since the three share one implementation.
/// </summary>
public record LlamaConfig : PretrainedConfig
{
    private readonly int? _numKeyValueHeads;
    private readonly int? _headDim;

    /// <summary>Creates a config with HuggingFace's defaults.</summary>
    public LlamaConfig()
    {
        ModelType = "llama";
        VocabSize = 32000;
        BosTokenId = [1];
        EosTokenId = [2];
        TieWordEmbeddings = false;
    }

    /// <summary><c>hidden_size</c>: the width of the residual stream.</summary>
    [JsonPropertyName("hidden_size")]
    public int HiddenSize { get; init; } = 4096;

    /// <summary><c>intermediate_size</c>: the width of the gated MLP.</summary>
    [JsonPropertyName("intermediate_size")]
    public int IntermediateSize { get; init; } = 11008;

    /// <summary><c>num_hidden_layers</c>: the number of decoder layers in <c>model.layers</c>.</summary>
    [JsonPropertyName("num_hidden_layers")]
    public int NumHiddenLayers { get; init; } = 32;

    /// <summary><c>num_attention_heads</c>: query heads per layer.</summary>
    [JsonPropertyName("num_attention_heads")]
    public int NumAttentionHeads { get; init; } = 32;

    /// <summary><c>num_key_value_heads</c>: key/value heads per layer (grouped-query attention); absent or null means
    /// one per query head.</summary>
    [JsonPropertyName("num_key_value_heads")]
    public int? NumKeyValueHeads { get => _numKeyValueHeads ?? NumAttentionHeads; init => _numKeyValueHeads = value; }

    /// <summary><c>head_dim</c>: the width of one head; absent or null means <c>hidden_size / num_attention_heads</c>.</summary>
    [JsonPropertyName("head_dim")]
    public int? HeadDim { get => _headDim ?? (NumAttentionHeads == 0 ? 0 : HiddenSize / NumAttentionHeads); init => _headDim = value; }

    /// <summary><c>hidden_act</c>: the MLP's gate non-linearity.</summary>
    [JsonPropertyName("hidden_act")]
    public string HiddenAct { get; init; } = "silu";

    /// <summary><c>max_position_embeddings</c>: the context length the model was trained for.</summary>
    [JsonPropertyName("max_position_embeddings")]
    public int MaxPositionEmbeddings { get; init; } = 2048;

    /// <summary><c>initializer_range</c>: the standard deviation used to initialise weights in training.</summary>
    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; init; } = 0.02;

    /// <summary><c>rms_norm_eps</c>: the epsilon of every RMSNorm.</summary>
    [JsonPropertyName("rms_norm_eps")]
    public double RmsNormEps { get; init; } = 1e-6;

    /// <summary><c>use_cache</c>: whether generation keeps a key/value cache.</summary>
    [JsonPropertyName("use_cache")]
    public bool UseCache { get; init; } = true;

    /// <summary><c>pretraining_tp</c>: tensor-parallel slices used in pretraining; the result is the same unsliced.</summary>
    [JsonPropertyName("pretraining_tp")]
    public int PretrainingTp { get; init; } = 1;

    /// <summary><c>rope_theta</c>: the base of the rotary embedding's frequencies.</summary>
    [JsonPropertyName("rope_theta")]
    public double RopeTheta { get; init; } = 10000.0;

    /// <summary><c>rope_scaling</c>: how the rotary frequencies are stretched for longer contexts, or null.</summary>
    [JsonPropertyName("rope_scaling")]
    public RopeScaling? RopeScaling { get; init; }

    /// <summary><c>attention_bias</c>: whether q/k/v/o projections have biases.</summary>
    [JsonPropertyName("attention_bias")]
    public bool AttentionBias { get; init; }

    /// <summary><c>attention_dropout</c>: dropout on the attention probabilities (inactive in evaluation).</summary>
    [JsonPropertyName("attention_dropout")]
    public double AttentionDropout { get; init; }

    /// <summary><c>mlp_bias</c>: whether the MLP projections have biases.</summary>
    [JsonPropertyName("mlp_bias")]
    public bool MlpBias { get; init; }

    /// <summary>The architecture's name in messages and the prefix of its HuggingFace class names.</summary>
    [JsonIgnore]
    public virtual string ClassPrefix => "Llama";

    /// <summary>Whether <c>q_proj</c>, <c>k_proj</c> and <c>v_proj</c> have biases.</summary>
    [JsonIgnore]
    public virtual bool QueryKeyValueBias => AttentionBias;

    /// <summary>Whether <c>o_proj</c> has a bias.</summary>
    [JsonIgnore]
    public virtual bool OutputProjectionBias => AttentionBias;

    /// <summary>The sliding attention window, or null when every position attends to all earlier ones.</summary>
    [JsonIgnore]
    public virtual int? SlidingWindowSize => null;

    /// <summary>The width of one head, resolved.</summary>
    [JsonIgnore]
    public int ResolvedHeadDim => HeadDim!.Value;

    /// <summary>Key/value heads per layer, resolved.</summary>
    [JsonIgnore]
    public int ResolvedKeyValueHeads => NumKeyValueHeads!.Value;

    /// <inheritdoc />
    /// <remarks>Rotary embeddings have no table, so only a sliding window bounds the positions this implementation takes.</remarks>
    [JsonIgnore]
    public override int? MaxPositions => SlidingWindowSize;

    /// <inheritdoc />
    [JsonIgnore]
    public override string MaxPositionsKey => "sliding_window";

    /// <inheritdoc />
    public override void Validate()
    {
        RequirePositive("hidden_size", HiddenSize);
        RequirePositive("intermediate_size", IntermediateSize);
        RequirePositive("num_hidden_layers", NumHiddenLayers);
        RequirePositive("num_attention_heads", NumAttentionHeads);
        RequirePositive("num_key_value_heads", ResolvedKeyValueHeads);
        RequirePositive("vocab_size", VocabSize);
        RequirePositive("pretraining_tp", PretrainingTp);
        if (_headDim is { } headDim)
        {
            RequirePositive("head_dim", headDim);
        }
        else if (HiddenSize % NumAttentionHeads != 0)
        {
            throw new ConfigException(
                $"config.json: hidden_size = {HiddenSize} is not divisible by num_attention_heads = {NumAttentionHeads}; set head_dim or use an equal share per head.",
                "hidden_size", Format(HiddenSize));
        }
        if (ResolvedHeadDim % 2 != 0)
        {
            throw new ConfigException($"config.json: head_dim = {ResolvedHeadDim} must be even; rotary embeddings rotate pairs of features.",
                "head_dim", Format(ResolvedHeadDim));
        }
        if (NumAttentionHeads % ResolvedKeyValueHeads != 0)
        {
            throw new ConfigException(
                $"config.json: num_attention_heads = {NumAttentionHeads} is not a multiple of num_key_value_heads = {ResolvedKeyValueHeads}; " +
                "each key/value head must serve the same number of query heads.",
                "num_key_value_heads", Format(ResolvedKeyValueHeads));
        }
        if (!(RopeTheta > 0))
        {
            throw new ConfigException($"config.json: rope_theta = {ConfigException.Describe(RopeTheta)} must be positive.",
                "rope_theta", ConfigException.Describe(RopeTheta));
        }
        if (!Activations.IsSupported(HiddenAct))
        {
            throw ConfigException.Unsupported(ClassPrefix, "hidden_act", HiddenAct, "supported: " + string.Join(", ", Activations.SupportedNames));
        }
        RopeScaling?.Validate(ClassPrefix);
        if (SlidingWindowSize is { } window)
        {
            RequirePositive("sliding_window", window);
        }
    }

    private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);
}
