using System.Text.Json;
using System.Text.Json.Serialization;

namespace NnSight.Models.Llama;

/// <summary>
/// A config's <c>rope_scaling</c>: how rotary frequencies are changed for contexts longer than pretraining. The
/// kinds implemented are HuggingFace's <c>linear</c>, <c>dynamic</c> and <c>llama3</c>; <c>default</c> changes nothing.
/// </summary>
public sealed record RopeScaling
{
    /// <summary>The kinds this implementation computes.</summary>
    public static IReadOnlyList<string> SupportedKinds { get; } = ["default", "linear", "dynamic", "llama3"];

    /// <summary><c>rope_type</c>: the kind, as newer configs write it.</summary>
    [JsonPropertyName("rope_type")]
    public string? RopeType { get; init; }

    /// <summary><c>type</c>: the kind, as older configs write it.</summary>
    [JsonPropertyName("type")]
    public string? Type { get; init; }

    /// <summary><c>factor</c>: how many times longer the context is than in pretraining.</summary>
    [JsonPropertyName("factor")]
    public double? Factor { get; init; }

    /// <summary><c>low_freq_factor</c> (llama3): wavelengths above <c>original / low_freq_factor</c> are divided by the factor.</summary>
    [JsonPropertyName("low_freq_factor")]
    public double? LowFreqFactor { get; init; }

    /// <summary><c>high_freq_factor</c> (llama3): wavelengths below <c>original / high_freq_factor</c> are kept.</summary>
    [JsonPropertyName("high_freq_factor")]
    public double? HighFreqFactor { get; init; }

    /// <summary><c>original_max_position_embeddings</c> (llama3): the pretraining context length.</summary>
    [JsonPropertyName("original_max_position_embeddings")]
    public int? OriginalMaxPositionEmbeddings { get; init; }

    /// <summary>Keys this record does not model, kept as read.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? OtherKeys { get; init; }

    /// <summary>The kind: <c>rope_type</c>, else <c>type</c>, else <c>default</c>.</summary>
    [JsonIgnore]
    public string Kind => RopeType ?? Type ?? "default";

    /// <summary>Throws a <see cref="ConfigException"/> naming the key that is unsupported or missing.</summary>
    internal void Validate(string architecture)
    {
        var kindKey = RopeType is null && Type is not null ? "rope_scaling.type" : "rope_scaling.rope_type";
        if (!SupportedKinds.Contains(Kind))
        {
            throw ConfigException.Unsupported(architecture, kindKey, Kind, "supported: " + string.Join(", ", SupportedKinds));
        }
        if (Kind == "default")
        {
            return;
        }
        Require("factor", Factor, atLeastOne: true);
        if (Kind == "llama3")
        {
            Require("low_freq_factor", LowFreqFactor, atLeastOne: false);
            Require("high_freq_factor", HighFreqFactor, atLeastOne: false);
            Require("original_max_position_embeddings", OriginalMaxPositionEmbeddings, atLeastOne: true);
            if (!(HighFreqFactor > LowFreqFactor))
            {
                throw new ConfigException(
                    $"config.json: rope_scaling.high_freq_factor = {ConfigException.Describe(HighFreqFactor)} must be greater than " +
                    $"rope_scaling.low_freq_factor = {ConfigException.Describe(LowFreqFactor)} for llama3 scaling.",
                    "rope_scaling.high_freq_factor", ConfigException.Describe(HighFreqFactor));
            }
        }
    }

    private void Require(string key, double? value, bool atLeastOne)
    {
        var valid = value is { } number && (atLeastOne ? number >= 1.0 : number > 0.0);
        if (!valid)
        {
            throw new ConfigException(
                $"config.json: rope_scaling.{key} = {ConfigException.Describe(value)} is {(value is null ? "missing" : "out of range")}; " +
                $"{Kind} scaling needs a {(atLeastOne ? "value of at least 1" : "positive value")}.",
                "rope_scaling." + key, ConfigException.Describe(value));
        }
    }
}
