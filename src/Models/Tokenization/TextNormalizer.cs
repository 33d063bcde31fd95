using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace NnSight.Models.Tokenization;

/// <summary>
/// The <c>normalizer</c> of a <c>tokenizer.json</c>, run on each stretch of text between added tokens: a
/// <c>Sequence</c> of <c>Prepend</c> (put a string first in a non-empty stretch), <c>Replace</c> (every match of a
/// string or regex) and the Unicode forms <c>NFC</c>, <c>NFD</c>, <c>NFKC</c>, <c>NFKD</c>.
/// </summary>
internal abstract class TextNormalizer
{
    /// <summary>The <c>type</c> values this class reads.</summary>
    public static readonly string[] Types = ["Sequence", "Prepend", "Replace", "NFC", "NFD", "NFKC", "NFKD"];

    public abstract string Normalize(string text);

    /// <summary>The normalizer at <paramref name="field"/>, or null when the file has none.</summary>
    /// <exception cref="ConfigException">A step is of another type or malformed; the message names the field.</exception>
    public static TextNormalizer? Read(string path, JsonElement element, string field)
    {
        if (TokenizerJsonParts.IsAbsent(element))
        {
            return null;
        }
        var steps = TokenizerJsonParts.Steps(element, field, "normalizers").Select(step => ReadStep(path, step.Step, step.Field)).ToArray();
        return steps.Length == 1 ? steps[0] : new Sequence(steps);
    }

    private static TextNormalizer ReadStep(string path, JsonElement step, string field) => TokenizerJsonParts.Type(step) switch
    {
        "Prepend" => new Prepend(TokenizerJsonParts.String(path, step, field, "prepend")),
        "Replace" => new Replace(TextReplacement.Read(path, step, field)),
        "NFC" => new Unicode(NormalizationForm.FormC),
        "NFD" => new Unicode(NormalizationForm.FormD),
        "NFKC" => new Unicode(NormalizationForm.FormKC),
        "NFKD" => new Unicode(NormalizationForm.FormKD),
        "Sequence" => new Sequence([.. TokenizerJsonParts.Steps(step, field, "normalizers").Select(inner => ReadStep(path, inner.Step, inner.Field))]),
        var other => throw TokenizerJsonParts.Unsupported(path, field, other, Types),
    };

    private sealed class Sequence(TextNormalizer[] steps) : TextNormalizer
    {
        public override string Normalize(string text) => steps.Aggregate(text, (current, step) => step.Normalize(current));
    }

    private sealed class Prepend(string prefix) : TextNormalizer
    {
        public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
    }

    private sealed class Replace(TextReplacement replacement) : TextNormalizer
    {
        public override string Normalize(string text) => replacement.Apply(text);
    }

    private sealed class Unicode(NormalizationForm form) : TextNormalizer
    {
        public override string Normalize(string text) => text.Normalize(form);
    }
}

/// <summary>A <c>Replace</c> step (normalizer or decoder): every match of <c>pattern</c>, a <c>String</c> or a
/// <c>Regex</c>, leftmost first and not overlapping, becomes <c>content</c>.</summary>
internal sealed class TextReplacement
{
    private readonly string? _literal;
    private readonly Regex? _regex;
    private readonly string _content;

    private TextReplacement(string? literal, Regex? regex, string content)
    {
        _literal = literal;
        _regex = regex;
        _content = content;
    }

    public static TextReplacement Read(string path, JsonElement step, string field)
    {
        var content = TokenizerJsonParts.String(path, step, field, "content");
        var pattern = TokenizerJsonParts.Property(step, "pattern");
        if (pattern.ValueKind == JsonValueKind.Object && pattern.TryGetProperty("String", out var literal) && literal.ValueKind == JsonValueKind.String
            && literal.GetString() is { Length: > 0 } text)
        {
            return new TextReplacement(text, null, content);
        }
        if (pattern.ValueKind == JsonValueKind.Object && pattern.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
        {
            try
            {
                // tokenizers compiles the pattern with Oniguruma; .NET's syntax agrees on the patterns files use.
                return new TextReplacement(null, new Regex(regex.GetString()!, RegexOptions.CultureInvariant), content);
            }
            catch (ArgumentException error)
            {
                throw new ConfigException($"{path}: {field}.pattern.Regex is not a valid regular expression ({error.Message}).", $"{field}.pattern.Regex",
                    regex.GetString(), error);
            }
        }
        throw TokenizerJsonParts.Malformed(path, $"{field}.pattern", "{\"String\": non-empty text} or {\"Regex\": pattern}");
    }

    public string Apply(string text) =>
        _literal is not null ? text.Replace(_literal, _content, StringComparison.Ordinal) : _regex!.Replace(text, _content.Replace("$", "$$", StringComparison.Ordinal));
}
