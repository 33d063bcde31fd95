using System.Text.Json;
using System.Text.Json.Serialization;

namespace NnSight.Models.Configuration;

/// <summary>
/// The keys every HuggingFace <c>config.json</c> shares. Architecture records derive from it; property names are the
/// PascalCase forms of the JSON keys and defaults are HuggingFace's.
/// </summary>
public abstract record PretrainedConfig
{
    /// <summary><c>model_type</c>: the architecture family (<c>gpt2</c>, <c>llama</c>, ...).</summary>
    [JsonPropertyName("model_type")]
    public string ModelType { get; init; } = "";

    /// <summary><c>architectures</c>: the HuggingFace classes the checkpoint was saved from.</summary>
    [JsonPropertyName("architectures")]
    public IReadOnlyList<string>? Architectures { get; init; }

    /// <summary><c>vocab_size</c>: rows of the token embedding and columns of the logits.</summary>
    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; init; }

    /// <summary><c>bos_token_id</c>: the beginning-of-sequence token, if the model has one.</summary>
    [JsonPropertyName("bos_token_id")]
    [JsonConverter(typeof(TokenIdListConverter))]
    public IReadOnlyList<int>? BosTokenId { get; init; }

    /// <summary><c>eos_token_id</c>: one id or a list of ids that end generation.</summary>
    [JsonPropertyName("eos_token_id")]
    [JsonConverter(typeof(TokenIdListConverter))]
    public IReadOnlyList<int>? EosTokenId { get; init; }

    /// <summary><c>pad_token_id</c>: the padding token, if the model declares one.</summary>
    [JsonPropertyName("pad_token_id")]
    public int? PadTokenId { get; init; }

    /// <summary><c>tie_word_embeddings</c>: whether <c>lm_head.weight</c> is the token embedding matrix.</summary>
    [JsonPropertyName("tie_word_embeddings")]
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary><c>torch_dtype</c>: the dtype the checkpoint was saved in, informational.</summary>
    [JsonPropertyName("torch_dtype")]
    public string? TorchDtype { get; init; }

    /// <summary><c>transformers_version</c>: the transformers release that wrote the file.</summary>
    [JsonPropertyName("transformers_version")]
    public string? TransformersVersion { get; init; }

    /// <summary>Keys this record does not model, kept as read (task parameters, summary heads, ...).</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? OtherKeys { get; init; }

    /// <summary>The largest position the model can embed, or null when positions are not bounded by a table.</summary>
    [JsonIgnore]
    public abstract int? MaxPositions { get; }

    /// <summary>The config key that sets <see cref="MaxPositions"/>, for messages.</summary>
    [JsonIgnore]
    public virtual string MaxPositionsKey => "max_position_embeddings";

    /// <summary>Throws a <see cref="ConfigException"/> naming the key and value the implementation cannot honour.</summary>
    public abstract void Validate();

    /// <summary>Throws a <see cref="ConfigException"/> unless <paramref name="value"/> is positive.</summary>
    protected static void RequirePositive(string key, int value)
    {
        if (value <= 0)
        {
            throw new ConfigException($"config.json: {key} = {value} must be a positive integer.", key,
                value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
