using Microsoft.ML.Tokenizers;
using NnSight.Models.Llama;
using NnSight.Models.Tokenization;
using NnSight.TestSupport;

namespace NnSight.Models.Tests;

/// <summary>
/// One Llama-style SentencePiece model two ways: as <c>tokenizer.model</c>, read by Microsoft.ML.Tokenizers'
/// SentencePiece implementation, and as the <c>tokenizer.json</c> transformers' <c>LlamaConverter</c> writes from it
/// (<see cref="LlamaConversion"/>), read by <see cref="MetaspaceBpeTokenizer"/>. Both must give the same ids.
/// </summary>
public sealed class SentencePieceConversionTests : IDisposable
{
    /// <summary>Words whose prefixes become pieces, highest score first, as BPE training would add them.</summary>
    private static readonly string[] Words =
    [
        "▁▁", "▁▁▁▁", "▁the", "▁hello", "▁world", "▁Hello", "▁World", "▁return", "▁def", "▁add", "▁for", "▁in", "▁range",
        "▁print", "▁if", "▁café", "▁naïve", "▁résumé", "▁中文", "▁ok", "▁two", "▁leading", "▁trailing", "▁done", "▁family",
        "12", "▁1", "▁x", "▁y", "▁(", "):", "();", "▁==", "▁+",
    ];

    /// <summary>Pieces that are not prefixes, so that several splits of a piece compete.</summary>
    private static readonly string[] Inner = ["ll", "llo", "ld", "or", "rn", "urn", "ang", "ge", "in", "nt", "ing", "é", "ï", "um", "ai"];

    /// <summary>Texts with spaces (leading, double, trailing), digits, code, accents, CJK and emoji.</summary>
    public static TheoryData<string> Texts() =>
    [
        "hello world", " hello world", "hello  world", "hello world ", "  two leading", "trailing two  ", "   ", " ",
        "12345 + 67 = 12412", "3.14159", "x1 y12",
        "def add(a, b):\n    return a + b\n", "\tif (x == 1) { y(); }", "for i in range(10):\n\tprint(i)", "x=[1,2,3];  // done",
        "café", "cafe\u0301", "naïve résumé", "Ångström", "Hello World", "HELLO",
        "中文字符", "日本語のテキスト", "한국어",
        "🙂 ok 👍🏽", "family: 👨‍👩‍👧", "Hello, World! 😀 中文 café\n",
    ];

    private readonly TemporaryFolder _model = new();
    private readonly TemporaryFolder _json = new();

    public void Dispose()
    {
        _model.Dispose();
        _json.Dispose();
    }

    /// <summary>Word prefixes, then the inner pieces, then every character of the texts and words that is not one
    /// already (the rest fall back to bytes), scores descending by position.</summary>
    private static List<(string Piece, float Score)> SentencePieces()
    {
        var pieces = new List<string>();
        foreach (var word in Words)
        {
            var runes = word.EnumerateRunes().Select(rune => rune.ToString()).ToArray();
            for (var length = 2; length <= runes.Length; length++)
            {
                pieces.Add(string.Concat(runes.Take(length)));
            }
        }
        pieces.AddRange(Inner);
        pieces.AddRange("▁abcdefghijklmnopqrstuvwxyzHW0123456789()[]{}:;,.=+".Select(character => character.ToString()));
        pieces.AddRange(["中", "文", "ï", "é"]);
        return [.. pieces.Distinct().Select((piece, index) => (piece, -(float)index))];
    }

    private static ModelTokenizer Load(string folder) =>
        ModelTokenizer.FromPretrained(folder, new LlamaConfig(), endOfSequenceId: 2, paddingId: 0) ?? throw new InvalidOperationException("no tokenizer");

    private (ModelTokenizer SentencePiece, ModelTokenizer Json) Write(object? normalizer, object? preTokenizer)
    {
        var pieces = SentencePieces();
        TokenizerFolders.WriteSentencePieceModel(_model.FullPath, pieces, byteFallback: true, keepExtraWhitespace: true);
        var (vocabulary, merges) = LlamaConversion.Convert(TokenizerFolders.SentencePiecePieces(pieces, byteFallback: true));
        TokenizerFolders.WriteSentencePieceTokenizerJson(_json.FullPath, vocabulary, merges, normalizer, preTokenizer, TokenizerFolders.LlamaDecoder,
            TokenizerFolders.Template(vocabulary, ["<s>"], []), mergesAsPairs: true);
        var sentencePiece = Load(_model.FullPath);
        var json = Load(_json.FullPath);
        Assert.IsType<LlamaTokenizer>(sentencePiece.Backend);
        Assert.IsType<MetaspaceBpeTokenizer>(json.Backend);
        return (sentencePiece, json);
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void The_converted_legacy_tokenizer_json_gives_the_sentencepiece_ids(string text)
    {
        var (sentencePiece, json) = Write(TokenizerFolders.LegacyLlamaNormalizer, preTokenizer: null);

        var ids = json.Encode(text);

        Assert.Equal(sentencePiece.Encode(text), ids);
        Assert.Equal(text, json.Decode(ids.Skip(1)));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void The_converted_metaspace_tokenizer_json_gives_the_sentencepiece_ids_unless_the_text_starts_with_a_space(string text)
    {
        var (sentencePiece, json) = Write(normalizer: null, TokenizerFolders.Metaspace("first", split: false));

        var ids = json.Encode(text);

        if (text == " ")
        {
            // "▁" alone; the text without its space would be empty, which SentencePiece encodes as nothing.
            Assert.Equal([1, ((LlamaTokenizer)sentencePiece.Backend).Vocabulary["▁"]], ids);
        }
        else if (text.StartsWith(' '))
        {
            // Metaspace puts no ▁ before a text that starts with one: " hello" is "▁hello", where SentencePiece's
            // dummy prefix makes "▁▁hello"; the ids are those of the text without the dummy prefix's ▁.
            Assert.Equal(sentencePiece.Encode(text[1..]), ids);
        }
        else
        {
            Assert.Equal(sentencePiece.Encode(text), ids);
        }
    }

    [Fact]
    public void The_conversion_makes_merges_for_every_split_and_ranks_them_by_score()
    {
        var (vocabulary, merges) = LlamaConversion.Convert(TokenizerFolders.SentencePiecePieces(SentencePieces(), byteFallback: true));

        // "▁return" (score below "▁retur"'s) splits as ▁retur+n, ▁retu+rn, ▁ret+urn: longer left halves rank first.
        var returnMerges = merges.Where(merge => merge.Left + merge.Right == "▁return").ToList();
        Assert.Equal([("▁retur", "n"), ("▁retu", "rn"), ("▁ret", "urn")], returnMerges);
        Assert.True(merges.IndexOf(("▁▁", "▁▁")) < merges.IndexOf(("▁retur", "n")));
        Assert.Equal(3 + 256, vocabulary.IndexOf("▁▁"));
    }
}
