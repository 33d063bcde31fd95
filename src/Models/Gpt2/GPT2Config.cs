using System.Text.Json.Serialization;
using NnSight.Models.Configuration;
using NnSight.Models.Modules;

namespace NnSight.Models.Gpt2;

/// <summary>
/// A GPT-2 <c>config.json</c>: every key of HuggingFace's <c>GPT2Config</c> with its defaults.
/// </summary>
public sealed record GPT2Config : PretrainedConfig
{
    /// <summary>Creates a config with HuggingFace's defaults (GPT-2 small).</summary>
    public GPT2Config()
    {
        ModelType = "gpt2";
        VocabSize = 50257;
        BosTokenId = [50256];
        EosTokenId = [50256];
    }

    /// <summary><c>n_positions</c>: rows of the learned position embedding <c>wpe</c>.</summary>
    [JsonPropertyName("n_positions")]
    public int NPositions { get; init; } = 1024;

    /// <summary><c>n_ctx</c>: the context length older configs state next to <c>n_positions</c>.</summary>
    [JsonPropertyName("n_ctx")]
    public int? NCtx { get; init; }

    /// <summary><c>n_embd</c>: the width of the residual stream.</summary>
    [JsonPropertyName("n_embd")]
    public int NEmbd { get; init; } = 768;

    /// <summary><c>n_layer</c>: the number of blocks in <c>transformer.h</c>.</summary>
    [JsonPropertyName("n_layer")]
    public int NLayer { get; init; } = 12;

    /// <summary><c>n_head</c>: attention heads per block.</summary>
    [JsonPropertyName("n_head")]
    public int NHead { get; init; } = 12;

    /// <summary><c>n_inner</c>: the MLP width; null means 4 × <c>n_embd</c>.</summary>
    [JsonPropertyName("n_inner")]
    public int? NInner { get; init; }

    /// <summary><c>activation_function</c>: the MLP non-linearity.</summary>
    [JsonPropertyName("activation_function")]
    public string ActivationFunction { get; init; } = "gelu_new";

    /// <summary><c>resid_pdrop</c>: dropout after attention and MLP (inactive in evaluation).</summary>
    [JsonPropertyName("resid_pdrop")]
    public double ResidPdrop { get; init; } = 0.1;

    /// <summary><c>embd_pdrop</c>: dropout on the summed embeddings (inactive in evaluation).</summary>
    [JsonPropertyName("embd_pdrop")]
    public double EmbdPdrop { get; init; } = 0.1;

    /// <summary><c>attn_pdrop</c>: dropout on the attention probabilities (inactive in evaluation).</summary>
    [JsonPropertyName("attn_pdrop")]
    public double AttnPdrop { get; init; } = 0.1;

    /// <summary><c>layer_norm_epsilon</c>: the epsilon of every LayerNorm.</summary>
    [JsonPropertyName("layer_norm_epsilon")]
    public double LayerNormEpsilon { get; init; } = 1e-5;

    /// <summary><c>initializer_range</c>: the standard deviation used to initialise weights in training.</summary>
    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; init; } = 0.02;

    /// <summary><c>summary_type</c>: the sequence summary of the double-heads model (unused here).</summary>
    [JsonPropertyName("summary_type")]
    public string? SummaryType { get; init; } = "cls_index";

    /// <summary><c>summary_use_proj</c>: whether the sequence summary has a projection (unused here).</summary>
    [JsonPropertyName("summary_use_proj")]
    public bool SummaryUseProj { get; init; } = true;

    /// <summary><c>summary_activation</c>: the sequence summary activation (unused here).</summary>
    [JsonPropertyName("summary_activation")]
    public string? SummaryActivation { get; init; }

    /// <summary><c>summary_proj_to_labels</c>: whether the summary projects to labels (unused here).</summary>
    [JsonPropertyName("summary_proj_to_labels")]
    public bool SummaryProjToLabels { get; init; } = true;

    /// <summary><c>summary_first_dropout</c>: the summary dropout (unused here).</summary>
    [JsonPropertyName("summary_first_dropout")]
    public double SummaryFirstDropout { get; init; } = 0.1;

    /// <summary><c>scale_attn_weights</c>: divide attention scores by √head_dim.</summary>
    [JsonPropertyName("scale_attn_weights")]
    public bool ScaleAttnWeights { get; init; } = true;

    /// <summary><c>use_cache</c>: whether generation keeps a key/value cache.</summary>
    [JsonPropertyName("use_cache")]
    public bool UseCache { get; init; } = true;

    /// <summary><c>scale_attn_by_inverse_layer_idx</c>: also divide attention scores by (layer index + 1).</summary>
    [JsonPropertyName("scale_attn_by_inverse_layer_idx")]
    public bool ScaleAttnByInverseLayerIdx { get; init; }

    /// <summary><c>reorder_and_upcast_attn</c>: compute attention scores and softmax in float32.</summary>
    [JsonPropertyName("reorder_and_upcast_attn")]
    public bool ReorderAndUpcastAttn { get; init; }

    /// <summary><c>add_cross_attention</c>: encoder-decoder cross attention (not supported).</summary>
    [JsonPropertyName("add_cross_attention")]
    public bool AddCrossAttention { get; init; }

    /// <summary>The MLP width: <c>n_inner</c>, or 4 × <c>n_embd</c> when it is null.</summary>
    [JsonIgnore]
    public int InnerDim => NInner ?? 4 * NEmbd;

    /// <summary>The width of one attention head.</summary>
    [JsonIgnore]
    public int HeadDim => NEmbd / NHead;

    /// <inheritdoc />
    [JsonIgnore]
    public override int? MaxPositions => NPositions;

    /// <inheritdoc />
    [JsonIgnore]
    public override string MaxPositionsKey => "n_positions";

    /// <inheritdoc />
    public override void Validate()
    {
        const string Architecture = "GPT-2";
        RequirePositive("n_embd", NEmbd);
        RequirePositive("n_layer", NLayer);
        RequirePositive("n_head", NHead);
        RequirePositive("n_positions", NPositions);
        RequirePositive("vocab_size", VocabSize);
        if (NInner is { } inner)
        {
            RequirePositive("n_inner", inner);
        }
        if (NEmbd % NHead != 0)
        {
            throw new ConfigException(
                $"config.json: n_embd = {NEmbd} is not divisible by n_head = {NHead}; each head needs an equal share.",
                "n_embd", NEmbd.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (!Activations.IsSupported(ActivationFunction))
        {
            throw ConfigException.Unsupported(Architecture, "activation_function", ActivationFunction,
                "supported: " + string.Join(", ", Activations.SupportedNames));
        }
        if (AddCrossAttention)
        {
            throw ConfigException.Unsupported(Architecture, "add_cross_attention", true,
                "only decoder-only GPT-2 is implemented");
        }
    }
}
