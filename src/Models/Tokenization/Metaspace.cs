using System.Text.Json;

namespace NnSight.Models.Tokenization;

/// <summary>When <see cref="Metaspace"/> puts its replacement character before a stretch of text.</summary>
internal enum PrependScheme
{
    /// <summary>Before every stretch that does not start with it.</summary>
    Always,

    /// <summary>Only before the stretch that starts the text.</summary>
    First,

    /// <summary>Never.</summary>
    Never,
}

/// <summary>
/// <c>tokenizers</c>' <c>Metaspace</c>, a pre-tokenizer and a decoder. Before the model, spaces become the replacement
/// character (<c>▁</c>), which is put first as <see cref="PrependScheme"/> says unless the stretch already starts with
/// it, and the stretch is split before each replacement character when <c>split</c> is true. When decoding, the
/// replacement character becomes a space again, except in the first token where it is dropped.
/// </summary>
internal sealed class Metaspace
{
    private readonly string _replacement;
    private readonly PrependScheme _scheme;
    private readonly bool _split;

    public Metaspace(string replacement, PrependScheme scheme, bool split)
    {
        _replacement = replacement;
        _scheme = scheme;
        _split = split;
    }

    /// <summary>
    /// Reads a <c>Metaspace</c> object. Files from before <c>prepend_scheme</c> existed say <c>add_prefix_space</c>;
    /// as in <c>tokenizers</c>, <c>prepend_scheme</c> defaults to <c>always</c>, <c>split</c> to true, and
    /// <c>add_prefix_space: false</c> requires <c>prepend_scheme: never</c>.
    /// </summary>
    public static Metaspace Read(string path, JsonElement element, string field)
    {
        var replacement = TokenizerJsonParts.Character(path, element, field, "replacement");
        var scheme = TokenizerJsonParts.OptionalString(path, element, field, "prepend_scheme") switch
        {
            null or "always" => PrependScheme.Always,
            "first" => PrependScheme.First,
            "never" => PrependScheme.Never,
            var other => throw new ConfigException($"{path}: {field}.prepend_scheme \"{other}\" is not one of always, first, never.",
                $"{field}.prepend_scheme", other),
        };
        if (!TokenizerJsonParts.Boolean(path, element, field, "add_prefix_space", fallback: true) && scheme != PrependScheme.Never)
        {
            throw new ConfigException($"{path}: {field}.add_prefix_space = false does not match prepend_scheme \"{scheme.ToString().ToLowerInvariant()}\".",
                $"{field}.add_prefix_space", "false");
        }
        return new Metaspace(replacement, scheme, TokenizerJsonParts.Boolean(path, element, field, "split", fallback: true));
    }

    /// <summary>The stretch with spaces replaced and the replacement put first, and the ranges of its words.</summary>
    /// <param name="text">A stretch of text between added tokens, after the normalizer.</param>
    /// <param name="startsText">Whether the stretch begins at the start of the whole text (for <see cref="PrependScheme.First"/>).</param>
    public (string Text, List<Range> Words) PreTokenize(string text, bool startsText)
    {
        var replaced = text.Replace(" ", _replacement, StringComparison.Ordinal);
        var prepend = _scheme == PrependScheme.Always || _scheme == PrependScheme.First && startsText;
        if (prepend && replaced.Length > 0 && !replaced.StartsWith(_replacement, StringComparison.Ordinal))
        {
            replaced = _replacement + replaced;
        }
        var words = new List<Range>();
        if (replaced.Length == 0)
        {
            return (replaced, words);
        }
        if (!_split)
        {
            words.Add(new Range(0, replaced.Length));
            return (replaced, words);
        }
        // Split before every replacement character (tokenizers' MergedWithNext on a one-character pattern).
        var start = 0;
        for (var index = replaced.IndexOf(_replacement, 1, StringComparison.Ordinal); index > 0;
             index = replaced.IndexOf(_replacement, index + _replacement.Length, StringComparison.Ordinal))
        {
            words.Add(new Range(start, index));
            start = index;
        }
        words.Add(new Range(start, replaced.Length));
        return (replaced, words);
    }

    /// <summary>The decoder: the replacement character becomes a space, or nothing in the first token unless the
    /// scheme is <see cref="PrependScheme.Never"/>.</summary>
    public List<string> Decode(List<string> tokens) =>
        [.. tokens.Select((token, index) => token.Replace(_replacement, index == 0 && _scheme != PrependScheme.Never ? "" : " ", StringComparison.Ordinal))];
}
