using System.Buffers;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace NnSight.Models.Tokenization;

/// <summary>
/// A SentencePiece-style <c>tokenizer.json</c> (Llama 2, Mistral, TinyLlama) as a Microsoft.ML.Tokenizers
/// <see cref="Tokenizer"/>: BPE over characters, spaces as <c>▁</c>, characters outside the vocabulary as their UTF-8
/// byte tokens. Encoding runs <c>tokenizers</c>' pipeline: added tokens found in the text, the normalizer on each
/// stretch between them, the <see cref="Metaspace"/> pre-tokenizer, the <see cref="BpeModel"/> on each word, then the
/// special tokens put around the text (the post-processor's template or <c>tokenizer_config.json</c>'s
/// <c>add_bos_token</c> / <c>add_eos_token</c>). Decoding maps ids to tokens (added tokens included) and runs the
/// decoder. See <c>docs/architecture.md#tokenizers</c>.
/// </summary>
internal sealed class MetaspaceBpeTokenizer : Tokenizer
{
    private readonly BpeModel _model;
    private readonly AddedVocabulary _added;
    private readonly TextNormalizer? _normalizer;
    private readonly Metaspace? _preTokenizer;
    private readonly TokenDecoder? _decoder;

    public MetaspaceBpeTokenizer(BpeModel model, AddedVocabulary added, TextNormalizer? normalizer, Metaspace? preTokenizer, TokenDecoder? decoder,
        IReadOnlyList<int> prefixIds, IReadOnlyList<int> suffixIds)
    {
        _model = model;
        _added = added;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _decoder = decoder;
        PrefixIds = prefixIds;
        SuffixIds = suffixIds;
    }

    /// <summary>The ids put before every text (the beginning-of-sequence token, or none).</summary>
    public IReadOnlyList<int> PrefixIds { get; }

    /// <summary>The ids put after every text (the end-of-sequence token, or none).</summary>
    public IReadOnlyList<int> SuffixIds { get; }

    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        var (tokens, normalized, consumed) = Encode(text, textSpan, settings);
        return new EncodeResults<EncodedToken>
        {
            Tokens = [.. tokens.Select(token => new EncodedToken(token.Id, TokenText(token.Id), new Range(token.Start, token.End)))],
            NormalizedText = normalized,
            CharsConsumed = consumed,
        };
    }

    protected override EncodeResults<int> EncodeToIds(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        var (tokens, normalized, consumed) = Encode(text, textSpan, settings);
        return new EncodeResults<int> { Tokens = [.. tokens.Select(token => token.Id)], NormalizedText = normalized, CharsConsumed = consumed };
    }

    protected override int CountTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings) =>
        Encode(text, textSpan, settings).Tokens.Count;

    protected override int GetIndexByTokenCount(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings, bool fromEnd,
        out string? normalizedText, out int tokenCount)
    {
        var all = Encode(text, textSpan, settings with { MaxTokenCount = int.MaxValue });
        normalizedText = all.NormalizedText;
        var length = normalizedText?.Length ?? text?.Length ?? textSpan.Length;
        var tokens = all.Tokens;
        if (!fromEnd)
        {
            var kept = Kept(tokens, settings.MaxTokenCount);
            tokenCount = kept;
            return kept == tokens.Count ? length : kept == 0 ? 0 : tokens[kept - 1].End;
        }
        // From the end: drop leading tokens until the rest fits, keeping a character's byte tokens together.
        var first = Math.Max(0, tokens.Count - settings.MaxTokenCount);
        while (first > 0 && first < tokens.Count && tokens[first].Start < tokens[first - 1].End)
        {
            first++;
        }
        tokenCount = tokens.Count - first;
        return first == 0 ? 0 : first == tokens.Count ? length : tokens[first].Start;
    }

    /// <summary>The text of <paramref name="ids"/>, special tokens included, as <c>tokenizers</c>' <c>decode</c>;
    /// ids of no token are skipped.</summary>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (var id in ids)
        {
            if ((_added.TokenOf(id) ?? _model.TokenOf(id)) is { } token)
            {
                tokens.Add(token);
            }
        }
        return TokenDecoder.Decode(_decoder, tokens);
    }

    /// <summary>Writes the text of the longest prefix of <paramref name="ids"/> whose text fits and begins the whole
    /// text (a prefix that would end inside a character is not taken).</summary>
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var all = ids as IReadOnlyList<int> ?? [.. ids];
        var text = Decode(all);
        if (text.Length <= destination.Length)
        {
            text.CopyTo(destination);
            (idsConsumed, charsWritten) = (all.Count, text.Length);
            return OperationStatus.Done;
        }
        (idsConsumed, charsWritten) = (0, 0);
        for (var count = 1; count < all.Count; count++)
        {
            var prefix = Decode(all.Take(count));
            if (prefix.Length > destination.Length)
            {
                break;
            }
            if (text.StartsWith(prefix, StringComparison.Ordinal))
            {
                (idsConsumed, charsWritten) = (count, prefix.Length);
            }
        }
        text.AsSpan(0, charsWritten).CopyTo(destination);
        return OperationStatus.DestinationTooSmall;
    }

    private string TokenText(int id) => _added.TokenOf(id) ?? _model.TokenOf(id) ?? "";

    /// <summary>The tokens of a text with their ranges in the text the model saw (the normalized text when it
    /// differs from the input, which is then returned), cut to <see cref="EncodeSettings.MaxTokenCount"/>.</summary>
    private (List<(int Id, int Start, int End)> Tokens, string? NormalizedText, int CharsConsumed) Encode(string? text, ReadOnlySpan<char> textSpan,
        EncodeSettings settings)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(settings.MaxTokenCount);
        var input = text ?? textSpan.ToString();
        var tokens = new List<(int Id, int Start, int End)>();
        var seen = new StringBuilder(input.Length + 8);
        tokens.AddRange(PrefixIds.Select(id => (id, 0, 0)));
        var pieces = settings.ConsiderPreTokenization ? _added.SplitRaw(input) : [new TextPiece(0, input.Length, null)];
        foreach (var piece in pieces)
        {
            var stretch = input[piece.Start..piece.End];
            if (piece.Token is { } added)
            {
                tokens.Add((added.Id, seen.Length, seen.Length + stretch.Length));
                seen.Append(stretch);
                continue;
            }
            var normalized = settings.ConsiderNormalization && _normalizer is not null ? _normalizer.Normalize(stretch) : stretch;
            var inner = settings.ConsiderPreTokenization ? _added.SplitNormalized(normalized) : [new TextPiece(0, normalized.Length, null)];
            for (var index = 0; index < inner.Count; index++)
            {
                var part = normalized[inner[index].Start..inner[index].End];
                if (inner[index].Token is { } normalizedToken)
                {
                    tokens.Add((normalizedToken.Id, seen.Length, seen.Length + part.Length));
                    seen.Append(part);
                    continue;
                }
                // tokenizers' "first" scheme looks at where the stretch began in the input.
                var startsText = piece.Start == 0 && index == 0;
                var (words, ranges) = settings.ConsiderPreTokenization && _preTokenizer is not null
                    ? _preTokenizer.PreTokenize(part, startsText)
                    : (part, [new Range(0, part.Length)]);
                var offset = seen.Length;
                seen.Append(words);
                foreach (var range in ranges)
                {
                    var (start, length) = range.GetOffsetAndLength(words.Length);
                    _model.Tokenize(words.Substring(start, length), offset + start, tokens);
                }
            }
        }
        tokens.AddRange(SuffixIds.Select(id => (id, seen.Length, seen.Length)));
        var seenText = seen.ToString();
        var normalizedText = seenText == input ? null : seenText;
        var kept = Kept(tokens, settings.MaxTokenCount);
        if (kept == tokens.Count)
        {
            return (tokens, normalizedText, (normalizedText ?? input).Length);
        }
        tokens.RemoveRange(kept, tokens.Count - kept);
        return (tokens, normalizedText, kept == 0 ? 0 : tokens[kept - 1].End);
    }

    /// <summary>How many of the first tokens fit in <paramref name="maxTokenCount"/> without parting the byte tokens
    /// of one character (they share its range).</summary>
    private static int Kept(List<(int Id, int Start, int End)> tokens, int maxTokenCount)
    {
        var kept = Math.Min(maxTokenCount, tokens.Count);
        while (kept > 0 && kept < tokens.Count && tokens[kept].Start < tokens[kept - 1].End)
        {
            kept--;
        }
        return kept;
    }
}
