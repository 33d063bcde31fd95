using System.Text.Json.Serialization;

namespace NnSight.Models.Llama;

/// <summary>
/// A Mistral <c>config.json</c> (HuggingFace's <c>MistralConfig</c>, defaults of Mistral 7B): Llama's layers without
/// biases, with a sliding attention window.
/// </summary>
/// <remarks>
/// This implementation does not mask by the window: it refuses sequences longer than <c>sliding_window</c>, where the
/// window would change the result. Within the window, sliding-window attention is ordinary causal attention.
/// </remarks>
public sealed record MistralConfig : LlamaConfig
{
    /// <summary>Creates a config with HuggingFace's defaults.</summary>
    public MistralConfig()
    {
        ModelType = "mistral";
        IntermediateSize = 14336;
        NumKeyValueHeads = 8;
        MaxPositionEmbeddings = 4096 * 32;
    }

    /// <summary><c>sliding_window</c>: how many earlier positions each position attends to, or null for all.</summary>
    [JsonPropertyName("sliding_window")]
    public int? SlidingWindow { get; init; } = 4096;

    /// <inheritdoc />
    [JsonIgnore]
    public override string ClassPrefix => "Mistral";

    /// <inheritdoc />
    [JsonIgnore]
    public override bool QueryKeyValueBias => false;

    /// <inheritdoc />
    [JsonIgnore]
    public override bool OutputProjectionBias => false;

    /// <inheritdoc />
    [JsonIgnore]
    public override int? SlidingWindowSize => SlidingWindow;
}
