using System.Text.Json;

namespace NnSight.Models.Configuration;

/// <summary>
/// The token ids generation needs, from <c>generation_config.json</c> with <c>config.json</c> as fallback (as
/// HuggingFace reads them).
/// </summary>
/// <param name="EosTokenIds">Tokens that end a row; empty when the model has none.</param>
/// <param name="PadTokenId">The padding token; the first eos token when neither file names one.</param>
public sealed record GenerationConfig(IReadOnlyList<int> EosTokenIds, int? PadTokenId)
{
    /// <summary>The file HuggingFace saves next to config.json.</summary>
    public const string FileName = "generation_config.json";

    /// <summary>Reads <c>generation_config.json</c> in <paramref name="folder"/> if present, else uses <paramref name="config"/>.</summary>
    /// <exception cref="ConfigException">The file exists but is not valid.</exception>
    public static GenerationConfig Read(string folder, PretrainedConfig config)
    {
        var eos = config.EosTokenId ?? [];
        var pad = config.PadTokenId;
        var path = Path.Combine(folder, FileName);
        if (File.Exists(path))
        {
            try
            {
                using var document = JsonDocument.Parse(File.ReadAllBytes(path));
                var root = document.RootElement;
                if (root.TryGetProperty("eos_token_id", out var eosValue) && eosValue.ValueKind != JsonValueKind.Null)
                {
                    eos = eosValue.ValueKind == JsonValueKind.Array ? [.. eosValue.EnumerateArray().Select(item => item.GetInt32())] : [eosValue.GetInt32()];
                }
                if (root.TryGetProperty("pad_token_id", out var padValue) && padValue.ValueKind != JsonValueKind.Null)
                {
                    pad = padValue.GetInt32();
                }
            }
            catch (Exception error) when (error is JsonException or InvalidOperationException or FormatException)
            {
                throw new ConfigException($"{path}: eos_token_id and pad_token_id must be integers ({error.Message}).", innerException: error);
            }
        }
        return new GenerationConfig(eos, pad ?? (eos.Count > 0 ? eos[0] : null));
    }
}
