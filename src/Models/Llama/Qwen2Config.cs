using System.Text.Json.Serialization;

namespace NnSight.Models.Llama;

/// <summary>
/// A Qwen2 <c>config.json</c> (HuggingFace's <c>Qwen2Config</c> and its defaults): Llama's layers with biases on the
/// query, key and value projections (none on <c>o_proj</c>), and an optional sliding window.
/// </summary>
/// <remarks>
/// With <c>use_sliding_window</c> true this implementation refuses sequences longer than <c>sliding_window</c> rather
/// than masking by the window.
/// </remarks>
public sealed record Qwen2Config : LlamaConfig
{
    /// <summary>Creates a config with HuggingFace's defaults.</summary>
    public Qwen2Config()
    {
        ModelType = "qwen2";
        VocabSize = 151936;
        IntermediateSize = 22016;
        MaxPositionEmbeddings = 32768;
        BosTokenId = null;
        EosTokenId = null;
    }

    /// <summary><c>use_sliding_window</c>: whether layers use sliding-window attention.</summary>
    [JsonPropertyName("use_sliding_window")]
    public bool UseSlidingWindow { get; init; }

    /// <summary><c>sliding_window</c>: the window when <c>use_sliding_window</c> is true.</summary>
    [JsonPropertyName("sliding_window")]
    public int? SlidingWindow { get; init; } = 4096;

    /// <summary><c>max_window_layers</c>: the layers below this index use full attention.</summary>
    [JsonPropertyName("max_window_layers")]
    public int MaxWindowLayers { get; init; } = 28;

    /// <inheritdoc />
    [JsonIgnore]
    public override string ClassPrefix => "Qwen2";

    /// <inheritdoc />
    [JsonIgnore]
    public override bool QueryKeyValueBias => true;

    /// <inheritdoc />
    [JsonIgnore]
    public override bool OutputProjectionBias => false;

    /// <inheritdoc />
    [JsonIgnore]
    public override int? SlidingWindowSize => UseSlidingWindow && MaxWindowLayers < NumHiddenLayers ? SlidingWindow : null;
}
