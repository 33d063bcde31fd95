using System.Globalization;
using System.Text;

namespace NnSight.Models.Tokenization;

/// <summary>An entry of <c>added_tokens</c> in <c>tokenizer.json</c>.</summary>
/// <param name="Id">The token's id.</param>
/// <param name="Content">The text that stands for the token.</param>
/// <param name="Special">Whether it is a special token (<c>&lt;s&gt;</c>) rather than an added word.</param>
/// <param name="Normalized">Whether it is found in the normalized text rather than in the text as given.</param>
/// <param name="SingleWord">Whether it is found only where no word character touches it.</param>
/// <param name="LeftStrip">Whether the whitespace before it belongs to it.</param>
/// <param name="RightStrip">Whether the whitespace after it belongs to it.</param>
internal sealed record AddedToken(int Id, string Content, bool Special, bool Normalized, bool SingleWord, bool LeftStrip, bool RightStrip);

/// <summary>A stretch of text: an added token when <see cref="Token"/> is set, else text for the model.</summary>
internal readonly record struct TextPiece(int Start, int End, AddedToken? Token);

/// <summary>
/// <c>tokenizers</c>' <c>AddedVocabulary</c>: finds the added tokens in a text, leftmost first and longest among those
/// starting at the same place. Tokens with <c>normalized: false</c> are found in the text as given, before the
/// normalizer runs; the others in each normalized stretch, as the normalizer writes their content.
/// </summary>
internal sealed class AddedVocabulary
{
    private readonly Matcher _raw;
    private readonly Matcher _normalized;
    private readonly Dictionary<int, string> _decoded = [];

    public AddedVocabulary(IReadOnlyList<AddedToken> tokens, TextNormalizer? normalizer)
    {
        Tokens = tokens;
        var raw = new List<(string, AddedToken)>();
        var normalized = new List<(string, AddedToken)>();
        foreach (var token in tokens.Where(token => token.Content.Length > 0))
        {
            if (token.Normalized && normalizer is not null)
            {
                // tokenizers matches and decodes such a token as the normalizer writes it (0.23 and later).
                var form = normalizer.Normalize(token.Content);
                normalized.Add((form, token));
                _decoded[token.Id] = form;
            }
            else
            {
                (token.Normalized ? normalized : raw).Add((token.Content, token));
                _decoded[token.Id] = token.Content;
            }
        }
        _raw = new Matcher(raw);
        _normalized = new Matcher(normalized);
    }

    public IReadOnlyList<AddedToken> Tokens { get; }

    /// <summary>The text that decodes <paramref name="id"/> when it is an added token, else null.</summary>
    public string? TokenOf(int id) => _decoded.GetValueOrDefault(id);

    /// <summary>The id of the added token <paramref name="content"/>, or null.</summary>
    public int? IdOf(string content) => Tokens.FirstOrDefault(token => token.Content == content)?.Id;

    /// <summary>Splits text as given around the tokens with <c>normalized: false</c>.</summary>
    public List<TextPiece> SplitRaw(string text) => _raw.Split(text);

    /// <summary>Splits normalized text around the tokens with <c>normalized: true</c>.</summary>
    public List<TextPiece> SplitNormalized(string text) => _normalized.Split(text);

    /// <summary>Leftmost-longest search over a set of patterns, as <c>find_matches</c> applies it.</summary>
    private sealed class Matcher
    {
        /// <summary>The patterns by first character, longest first.</summary>
        private readonly Dictionary<char, (string Pattern, AddedToken Token)[]> _byFirst;

        public Matcher(List<(string Pattern, AddedToken Token)> patterns) =>
            _byFirst = patterns.GroupBy(entry => entry.Pattern[0])
                .ToDictionary(group => group.Key, group => group.OrderByDescending(entry => entry.Pattern.Length).ToArray());

        public List<TextPiece> Split(string text)
        {
            var pieces = new List<TextPiece>();
            var pieceStart = 0;
            var searchFrom = 0;
            while (_byFirst.Count > 0 && Find(text, searchFrom) is var (matchStart, matchEnd, token))
            {
                searchFrom = matchEnd;
                if (token.SingleWord && (EndsWithWord(text, matchStart) || StartsWithWord(text, matchEnd)))
                {
                    continue;
                }
                var start = token.LeftStrip ? Math.Max(SpacesBefore(text, matchStart), pieceStart) : Math.Max(matchStart, pieceStart);
                var end = token.RightStrip ? SpacesAfter(text, matchEnd) : matchEnd;
                if (pieceStart < start)
                {
                    pieces.Add(new TextPiece(pieceStart, start, null));
                }
                pieces.Add(new TextPiece(start, end, token));
                pieceStart = end;
            }
            if (pieceStart < text.Length || pieces.Count == 0)
            {
                pieces.Add(new TextPiece(pieceStart, text.Length, null));
            }
            return pieces;
        }

        private (int Start, int End, AddedToken Token)? Find(string text, int from)
        {
            for (var start = from; start < text.Length; start++)
            {
                if (!_byFirst.TryGetValue(text[start], out var candidates))
                {
                    continue;
                }
                foreach (var (pattern, token) in candidates)
                {
                    if (start + pattern.Length <= text.Length && text.AsSpan(start, pattern.Length).SequenceEqual(pattern))
                    {
                        return (start, start + pattern.Length, token);
                    }
                }
            }
            return null;
        }

        private static int SpacesBefore(string text, int index)
        {
            while (index > 0 && char.IsWhiteSpace(text[index - 1]))
            {
                index--;
            }
            return index;
        }

        private static int SpacesAfter(string text, int index)
        {
            while (index < text.Length && char.IsWhiteSpace(text[index]))
            {
                index++;
            }
            return index;
        }

        private static bool EndsWithWord(string text, int index) =>
            index > 0 && Rune.DecodeLastFromUtf16(text.AsSpan(0, index), out var rune, out _) == System.Buffers.OperationStatus.Done && IsWordCharacter(rune);

        private static bool StartsWithWord(string text, int index) =>
            index < text.Length && Rune.DecodeFromUtf16(text.AsSpan(index), out var rune, out _) == System.Buffers.OperationStatus.Done && IsWordCharacter(rune);

        /// <summary>Unicode <c>\w</c> as Rust's regex crate defines it: alphabetic, marks, decimal digits,
        /// connector punctuation and the joiners.</summary>
        private static bool IsWordCharacter(Rune rune) =>
            Rune.IsLetter(rune) || rune.Value is 0x200C or 0x200D || Rune.GetUnicodeCategory(rune) is UnicodeCategory.NonSpacingMark
                or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
                or UnicodeCategory.ConnectorPunctuation or UnicodeCategory.LetterNumber;
    }
}
