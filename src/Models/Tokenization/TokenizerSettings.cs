using System.Globalization;
using System.Text.Json;

namespace NnSight.Models.Tokenization;

/// <summary>What <c>tokenizer_config.json</c> says about special tokens (all null or empty when absent).</summary>
/// <param name="AddBeginningOfSentence"><c>add_bos_token</c>.</param>
/// <param name="AddEndOfSentence"><c>add_eos_token</c>.</param>
/// <param name="BeginningOfSentenceToken"><c>bos_token</c>.</param>
/// <param name="EndOfSentenceToken"><c>eos_token</c>.</param>
/// <param name="AddedTokens"><c>added_tokens_decoder</c>, content to id.</param>
internal sealed record TokenizerSettings(bool? AddBeginningOfSentence, bool? AddEndOfSentence, string? BeginningOfSentenceToken,
    string? EndOfSentenceToken, IReadOnlyDictionary<string, int> AddedTokens)
{
    public static TokenizerSettings Read(string path)
    {
        if (!File.Exists(path))
        {
            return new(null, null, null, null, new Dictionary<string, int>());
        }
        using var document = TokenizerFiles.ParseJson(path);
        var root = document.RootElement;
        var added = root.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object
            ? decoder.EnumerateObject().ToDictionary(entry => entry.Value.GetProperty("content").GetString()!, entry => int.Parse(entry.Name, CultureInfo.InvariantCulture))
            : [];
        return new(Flag(root, "add_bos_token"), Flag(root, "add_eos_token"), TokenText(root, "bos_token"), TokenText(root, "eos_token"), added);
    }

    private static bool? Flag(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : null;

    /// <summary>A token given as a string or as an AddedToken object with <c>content</c>.</summary>
    private static string? TokenText(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var value) ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out var content) ? content.GetString()
        : null;
}
