using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace NnSight.Models.Tokenization;

/// <summary>
/// The <c>decoder</c> of a <c>tokenizer.json</c>: token strings to text, each step rewriting the list of strings as
/// <c>tokenizers</c>' <c>decode_chain</c> does (<c>Replace</c>, <c>ByteFallback</c>, <c>Fuse</c>, <c>Strip</c>,
/// <c>Metaspace</c>, in a <c>Sequence</c>); the text is the strings joined.
/// </summary>
internal abstract class TokenDecoder
{
    /// <summary>The <c>type</c> values this class reads.</summary>
    public static readonly string[] Types = ["Sequence", "Replace", "ByteFallback", "Fuse", "Strip", "Metaspace"];

    public abstract List<string> DecodeChain(List<string> tokens);

    /// <summary>The text of <paramref name="tokens"/>; without a decoder, <c>tokenizers</c> joins them with spaces.</summary>
    public static string Decode(TokenDecoder? decoder, List<string> tokens) =>
        decoder is null ? string.Join(' ', tokens) : string.Concat(decoder.DecodeChain(tokens));

    /// <summary>The decoder at <paramref name="field"/>, or null when the file has none.</summary>
    /// <exception cref="ConfigException">A step is of another type or malformed; the message names the field.</exception>
    public static TokenDecoder? Read(string path, JsonElement element, string field)
    {
        if (TokenizerJsonParts.IsAbsent(element))
        {
            return null;
        }
        var steps = TokenizerJsonParts.Steps(element, field, "decoders").Select(step => ReadStep(path, step.Step, step.Field)).ToArray();
        return steps.Length == 1 ? steps[0] : new Sequence(steps);
    }

    private static TokenDecoder ReadStep(string path, JsonElement step, string field) => TokenizerJsonParts.Type(step) switch
    {
        "Replace" => new Replace(TextReplacement.Read(path, step, field)),
        "ByteFallback" => new ByteFallback(),
        "Fuse" => new Fuse(),
        "Strip" => new Strip(TokenizerJsonParts.Character(path, step, field, "content"),
            TokenizerJsonParts.Count(path, step, field, "start"), TokenizerJsonParts.Count(path, step, field, "stop")),
        "Metaspace" => new MetaspaceStep(Metaspace.Read(path, step, field)),
        "Sequence" => new Sequence([.. TokenizerJsonParts.Steps(step, field, "decoders").Select(inner => ReadStep(path, inner.Step, inner.Field))]),
        var other => throw TokenizerJsonParts.Unsupported(path, field, other, Types),
    };

    private sealed class Sequence(TokenDecoder[] steps) : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => steps.Aggregate(tokens, (current, step) => step.DecodeChain(current));
    }

    private sealed class Replace(TextReplacement replacement) : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => [.. tokens.Select(replacement.Apply)];
    }

    /// <summary>Runs of <c>&lt;0xNN&gt;</c> tokens become the text their bytes spell, or one U+FFFD per byte when
    /// they are not valid UTF-8.</summary>
    private sealed class ByteFallback : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens)
        {
            var decoded = new List<string>(tokens.Count);
            var bytes = new List<byte>();
            foreach (var token in tokens)
            {
                if (ByteOf(token) is { } value)
                {
                    bytes.Add(value);
                    continue;
                }
                Flush();
                decoded.Add(token);
            }
            Flush();
            return decoded;

            void Flush()
            {
                if (bytes.Count == 0)
                {
                    return;
                }
                var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
                if (Utf8.IsValid(span))
                {
                    decoded.Add(Encoding.UTF8.GetString(span));
                }
                else
                {
                    decoded.AddRange(Enumerable.Repeat("\uFFFD", bytes.Count));
                }
                bytes.Clear();
            }
        }

        /// <summary>The byte of a token spelled <c>&lt;0xNN&gt;</c> (six bytes in UTF-8), or null.</summary>
        private static byte? ByteOf(string token) =>
            token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
                ? value
                : null;
    }

    private sealed class Fuse : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
    }

    /// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing <c>content</c> characters of each token.</summary>
    private sealed class Strip(string content, int start, int stop) : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => [.. tokens.Select(StripOne)];

        private string StripOne(string token)
        {
            var from = 0;
            for (var count = 0; count < start && token.AsSpan(from).StartsWith(content, StringComparison.Ordinal); count++)
            {
                from += content.Length;
            }
            var to = token.Length;
            for (var count = 0; count < stop && to - content.Length >= from && token.AsSpan(from, to - from).EndsWith(content, StringComparison.Ordinal); count++)
            {
                to -= content.Length;
            }
            return token[from..to];
        }
    }

    private sealed class MetaspaceStep(Metaspace metaspace) : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => metaspace.Decode(tokens);
    }
}
