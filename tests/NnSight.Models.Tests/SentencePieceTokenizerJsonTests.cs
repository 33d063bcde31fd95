using System.Buffers;
using Microsoft.ML.Tokenizers;
using NnSight.Models.Llama;
using NnSight.Models.Tokenization;
using NnSight.TestSupport;

namespace NnSight.Models.Tests;

/// <summary>
/// SentencePiece-style <c>tokenizer.json</c> files (Llama 2, Mistral, TinyLlama) read without a
/// <c>tokenizer.model</c>: BPE over characters with <c>▁</c> for spaces and <c>&lt;0xNN&gt;</c> byte fallback.
/// </summary>
public sealed class SentencePieceTokenizerJsonTests : IDisposable
{
    /// <summary>
    /// The hand-made vocabulary: <c>&lt;unk&gt;</c> 0, <c>&lt;s&gt;</c> 1, <c>&lt;/s&gt;</c> 2, the byte tokens
    /// <c>&lt;0x00&gt;</c>..<c>&lt;0xFF&gt;</c> at 3..258 (byte b at 3 + b), then these pieces from 259.
    /// </summary>
    private static readonly string[] Pieces =
    [
        "▁▁", "ll", "▁h", "▁he", "llo", "▁hello", "▁w", "or", "▁wor", "ld", // 259..268
        "▁world", "é", "▁", "h", "e", "l", "o", "w", "r", "d", // 269..278
        "r▁", // 279
    ];

    /// <summary>The merges in rank order (rank 0 first).</summary>
    private static readonly (string, string)[] Merges =
    [
        ("▁", "▁"), ("l", "l"), ("▁", "h"), ("▁h", "e"), ("ll", "o"), ("▁he", "llo"), // ranks 0..5
        ("▁", "w"), ("o", "r"), ("▁w", "or"), ("l", "d"), ("▁wor", "ld"), ("r", "▁"), // ranks 6..11
    ];

    private static readonly List<string> Vocabulary = TokenizerFolders.SentencePiecePieces([.. Pieces.Select(piece => (piece, 0f))], byteFallback: true)
        .Select(piece => piece.Piece).ToList();

    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static ModelTokenizer Load(string folder) =>
        ModelTokenizer.FromPretrained(folder, new LlamaConfig(), endOfSequenceId: 2, paddingId: 0) ?? throw new InvalidOperationException("no tokenizer");

    /// <summary>Llama 2's file: the legacy normalizer, no pre-tokenizer, <c>&lt;s&gt;</c> first, Llama's decoder.</summary>
    private ModelTokenizer LegacyLlama(bool byteFallback = true, bool fuseUnknown = true, bool mergesAsPairs = false, object? decoder = null)
    {
        TokenizerFolders.WriteSentencePieceTokenizerJson(_folder.FullPath, Vocabulary, Merges, TokenizerFolders.LegacyLlamaNormalizer, preTokenizer: null,
            decoder ?? TokenizerFolders.LlamaDecoder, TokenizerFolders.Template(Vocabulary, ["<s>"], []), byteFallback, fuseUnknown, mergesAsPairs);
        return Load(_folder.FullPath);
    }

    /// <summary>A file with a <c>Metaspace</c> pre-tokenizer and no normalizer.</summary>
    private ModelTokenizer WithMetaspace(object metaspace)
    {
        TokenizerFolders.WriteSentencePieceTokenizerJson(_folder.FullPath, Vocabulary, Merges, normalizer: null, metaspace, TokenizerFolders.LlamaDecoder,
            TokenizerFolders.Template(Vocabulary, ["<s>"], []));
        return Load(_folder.FullPath);
    }

    [Theory]
    // "▁hello▁world": l+l, ▁+h, ▁h+e, ll+o, ▁he+llo, ▁+w, o+r, ▁w+or, l+d, ▁wor+ld -> <s> ▁hello ▁world
    [InlineData("hello world", new[] { 1, 264, 269 })]
    // "▁▁hello": ▁+▁ (rank 0) takes the ▁ that ▁+h wanted -> <s> ▁▁ h e llo
    [InlineData(" hello", new[] { 1, 259, 272, 273, 263 })]
    // "▁hello▁▁world": ▁+▁ first, so no ▁w -> <s> ▁hello ▁▁ w or ld
    [InlineData("hello  world", new[] { 1, 264, 259, 276, 266, 268 })]
    // "▁hello▁" -> <s> ▁hello ▁
    [InlineData("hello ", new[] { 1, 264, 271 })]
    // No pre-tokenizer: the text is one word, so r+▁ merges across the space: "▁r▁r" -> <s> ▁ r▁ r
    [InlineData("r r", new[] { 1, 271, 279, 277 })]
    // Prepend leaves an empty text empty -> <s>
    [InlineData("", new[] { 1 })]
    public void A_legacy_llama_file_encodes_spaces_as_huggingface_does(string text, int[] ids)
    {
        var tokenizer = LegacyLlama();

        Assert.IsType<MetaspaceBpeTokenizer>(tokenizer.Backend);
        Assert.Null(tokenizer.PrependedId);
        Assert.Equal(ids, tokenizer.Encode(text));
    }

    [Theory]
    // "▁hé": é is a token -> <s> ▁h é
    [InlineData("hé", new[] { 1, 261, 270 })]
    // NFD is kept as given: e, then U+0301 as its bytes CC 81 -> <s> ▁he <0xCC> <0x81>
    [InlineData("he\u0301", new[] { 1, 262, 3 + 0xCC, 3 + 0x81 })]
    // 中 is E4 B8 AD -> <s> ▁h <0xE4> <0xB8> <0xAD>
    [InlineData("h中", new[] { 1, 261, 3 + 0xE4, 3 + 0xB8, 3 + 0xAD })]
    // 😀 (one character, two UTF-16 units) is F0 9F 98 80
    [InlineData("h😀", new[] { 1, 261, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80 })]
    // newline and tab have no token of their own -> <s> ▁h <0x0A> <0x09> o
    [InlineData("h\n\to", new[] { 1, 261, 3 + 0x0A, 3 + 0x09, 275 })]
    public void Characters_outside_the_vocabulary_fall_back_to_their_utf8_bytes(string text, int[] ids)
    {
        Assert.Equal(ids, LegacyLlama().Encode(text));
    }

    [Theory]
    // "▁h中😀o" without byte fallback: 中 and 😀 are unknown -> <s> ▁h <unk> o, or two <unk> unfused
    [InlineData(true, new[] { 1, 261, 0, 275 })]
    [InlineData(false, new[] { 1, 261, 0, 0, 275 })]
    public void Without_byte_fallback_unknown_characters_are_unk_fused_when_the_file_says(bool fuseUnknown, int[] ids)
    {
        Assert.Equal(ids, LegacyLlama(byteFallback: false, fuseUnknown: fuseUnknown).Encode("h中😀o"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Merges_read_alike_as_strings_or_pairs(bool mergesAsPairs)
    {
        Assert.Equal([1, 264, 269], LegacyLlama(mergesAsPairs: mergesAsPairs).Encode("hello world"));
    }

    [Theory]
    // "<s>", "▁hello" (Prepend runs on each stretch between added tokens), "</s>", after the template's <s>
    [InlineData("<s>hello</s>", new[] { 1, 1, 264, 2 })]
    // "▁hello", "<s>", "▁▁world" -> ▁▁ w or ld
    [InlineData("hello<s> world", new[] { 1, 264, 1, 259, 276, 266, 268 })]
    public void Added_tokens_are_found_before_the_normalizer_runs(string text, int[] ids)
    {
        Assert.Equal(ids, LegacyLlama().Encode(text));
    }

    [Theory]
    // "first": ▁ goes before the stretch that starts the text, unless it already starts with one (a space)
    [InlineData("hello world", new[] { 1, 264, 269 })]
    [InlineData(" hello", new[] { 1, 264 })]
    // "hello" after <s> does not start the text: h e l l o -> h e llo
    [InlineData("<s>hello", new[] { 1, 1, 272, 273, 263 })]
    // " world" after <s> is "▁world" already
    [InlineData("hello<s> world", new[] { 1, 264, 1, 269 })]
    public void A_metaspace_file_with_the_first_scheme_prepends_only_at_the_start(string text, int[] ids)
    {
        Assert.Equal(ids, WithMetaspace(TokenizerFolders.Metaspace("first", split: false)).Encode(text));
    }

    [Theory]
    // add_prefix_space: true and no prepend_scheme or split: "always", split before every ▁
    [InlineData("<s>hello", new[] { 1, 1, 264 })]
    // words "▁r", "▁r": r+▁ cannot cross them
    [InlineData("r r", new[] { 1, 271, 277, 271, 277 })]
    // words "▁hello", "▁", "▁world"
    [InlineData("hello  world", new[] { 1, 264, 271, 269 })]
    public void A_legacy_metaspace_file_prepends_always_and_splits_words(string text, int[] ids)
    {
        Assert.Equal(ids, WithMetaspace(new { type = "Metaspace", replacement = "▁", str_rep = "▁", add_prefix_space = true }).Encode(text));
    }

    [Fact]
    public void Metaspace_with_add_prefix_space_false_needs_the_never_scheme()
    {
        var error = Assert.Throws<ConfigException>(() => WithMetaspace(new { type = "Metaspace", replacement = "▁", add_prefix_space = false }));

        Assert.Contains("tokenizer.json: pre_tokenizer.add_prefix_space = false does not match prepend_scheme \"always\"", error.Message, StringComparison.Ordinal);
        // "hello▁world" with nothing put first -> <s> h e llo ▁world
        Assert.Equal([1, 272, 273, 263, 269], WithMetaspace(new { type = "Metaspace", replacement = "▁", add_prefix_space = false, prepend_scheme = "never" })
            .Encode("hello world"));
    }

    [Theory]
    // add_bos_token false and add_eos_token true override the template's <s>
    [InlineData("""{"add_bos_token": false, "add_eos_token": true}""", true, new[] { 264, 269, 2 })]
    // add_bos_token alone: <s> (bos_token); the end follows the template, which has nothing after
    [InlineData("""{"add_bos_token": true, "bos_token": "<s>"}""", false, new[] { 1, 264, 269 })]
    // bos_token as an AddedToken object names the token to put first
    [InlineData("""{"add_bos_token": true, "bos_token": {"content": "</s>"}}""", false, new[] { 2, 264, 269 })]
    // Neither config nor template: nothing around the text
    [InlineData(null, false, new[] { 264, 269 })]
    // The template alone
    [InlineData(null, true, new[] { 1, 264, 269 })]
    public void Tokenizer_config_decides_the_special_tokens_and_the_template_otherwise(string? config, bool template, int[] ids)
    {
        TokenizerFolders.WriteSentencePieceTokenizerJson(_folder.FullPath, Vocabulary, Merges, TokenizerFolders.LegacyLlamaNormalizer, null,
            TokenizerFolders.LlamaDecoder, template ? TokenizerFolders.Template(Vocabulary, ["<s>"], []) : null);
        if (config is not null)
        {
            File.WriteAllText(_folder.File("tokenizer_config.json"), config);
        }

        Assert.Equal(ids, Load(_folder.FullPath).Encode("hello world"));
    }

    [Fact]
    public void A_template_can_put_tokens_after_the_text()
    {
        TokenizerFolders.WriteSentencePieceTokenizerJson(_folder.FullPath, Vocabulary, Merges, TokenizerFolders.LegacyLlamaNormalizer, null,
            TokenizerFolders.LlamaDecoder, TokenizerFolders.Template(Vocabulary, ["<s>"], ["</s>"]));

        Assert.Equal([1, 264, 269, 2], Load(_folder.FullPath).Encode("hello world"));
    }

    [Theory]
    // <s> ▁hello ▁world -> "<s>", " hello", " world" fused; Strip takes a leading space only
    [InlineData(new[] { 1, 264, 269 }, "<s> hello world")]
    [InlineData(new[] { 264, 269 }, "hello world")]
    // ▁▁ h e llo -> "  hello" -> one space stripped
    [InlineData(new[] { 259, 272, 273, 263 }, " hello")]
    // ▁h <0x0A> <0x09> o: byte tokens become their UTF-8 text
    [InlineData(new[] { 261, 3 + 0x0A, 3 + 0x09, 275 }, "h\n\to")]
    [InlineData(new[] { 261, 3 + 0xE4, 3 + 0xB8, 3 + 0xAD }, "h中")]
    [InlineData(new[] { 261, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80 }, "h😀")]
    // Bytes that are not UTF-8 give one U+FFFD each
    [InlineData(new[] { 3 + 0xE4, 3 + 0xB8 }, "\uFFFD\uFFFD")]
    [InlineData(new[] { 0, 275 }, "<unk>o")]
    // Ids of no token are skipped
    [InlineData(new[] { 264, 100000 }, "hello")]
    public void Decoding_runs_the_files_decoder(int[] ids, string text)
    {
        Assert.Equal(text, LegacyLlama().Decode(ids));
    }

    [Fact]
    public void A_metaspace_decoder_drops_the_replacement_only_in_the_first_token_and_no_decoder_joins_with_spaces()
    {
        // The first token's ▁ are all dropped ("▁▁" -> ""), later ones become spaces.
        Assert.Equal("h world", LegacyLlama(decoder: TokenizerFolders.Metaspace("first", split: false)).Decode(new[] { 259, 272, 269 }));

        TokenizerFolders.WriteSentencePieceTokenizerJson(_folder.FullPath, Vocabulary, Merges, TokenizerFolders.LegacyLlamaNormalizer, null, decoder: null, null);

        Assert.Equal("▁hello ▁world", Load(_folder.FullPath).Decode(new[] { 264, 269 }));
    }

    [Theory]
    [InlineData("hello world")]
    [InlineData("  hello  world  ")]
    [InlineData("héllo\n\twörld 中文 😀")]
    [InlineData("he\u0301")]
    public void Decoding_the_ids_of_a_text_gives_the_text_back(string text)
    {
        var tokenizer = LegacyLlama();

        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text).Skip(1)));
    }

    [Fact]
    public void The_backend_answers_the_microsoft_ml_tokenizer_api()
    {
        var backend = LegacyLlama().Backend;

        var tokens = backend.EncodeToTokens("hello world", out var normalized);
        Assert.Equal(["<s>", "▁hello", "▁world"], tokens.Select(token => token.Value));
        Assert.Equal("▁hello▁world", normalized);
        Assert.Equal([new Range(0, 0), new Range(0, 6), new Range(6, 12)], tokens.Select(token => token.Offset));
        Assert.Equal(3, backend.CountTokens("hello world"));
        // At most 4 ids: <s> ▁h, but not part of 中's three byte tokens
        Assert.Equal([1, 261], backend.EncodeToIds("h中", maxTokenCount: 4, out _, out var consumed));
        Assert.Equal(2, consumed);
        Assert.Equal(6, backend.GetIndexByTokenCount("hello world", maxTokenCount: 2, out _, out var count));
        Assert.Equal(2, count);

        var buffer = new char[8];
        Assert.Equal(OperationStatus.DestinationTooSmall, backend.Decode(new[] { 264, 269 }, buffer, out var idsConsumed, out var written));
        Assert.Equal((1, "hello"), (idsConsumed, new string(buffer, 0, written)));
    }

    [Fact]
    public void A_tiny_llama_folder_with_only_a_tokenizer_json_takes_text()
    {
        foreach (var file in Directory.GetFiles(RepositoryPaths.TinyLlama))
        {
            File.Copy(file, _folder.File(Path.GetFileName(file)));
        }
        TokenizerFolders.WriteSentencePieceTokenizerJson(_folder.FullPath, Vocabulary, Merges, TokenizerFolders.LegacyLlamaNormalizer, null,
            TokenizerFolders.LlamaDecoder, TokenizerFolders.Template(Vocabulary, ["<s>"], []));

        using var model = LanguageModel.FromPretrained(_folder.FullPath);
        using var batch = model.Tokenize(["hello world", "hello"]);

        Assert.Equal([1L, 264, 269], batch.InputIds[0].data<long>().ToArray());
        Assert.Equal([0L, 1, 264], batch.InputIds[1].data<long>().ToArray());
        using var output = model.Forward(batch);
        Assert.Equal([2L, 3L, 512L], output.Logits.shape);
    }

    [Theory]
    [InlineData("""{"model": {"type": "WordPiece", "vocab": {}}, "pre_tokenizer": {"type": "BertPreTokenizer"}}""", "model.type \"WordPiece\"")]
    [InlineData("""{"model": {"type": "Unigram", "vocab": []}}""", "model.type \"Unigram\"")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Whitespace"}}""", "pre_tokenizer.type \"Whitespace\"")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {}, "merges": []}, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Precompiled"}]}}""",
        "normalizer.normalizers[1].type \"Precompiled\"")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {}, "merges": [], "dropout": 0.1}}""", "model.dropout = 0.1")]
    public void A_tokenizer_json_of_a_kind_that_cannot_be_read_names_the_file_and_the_field(string json, string field)
    {
        File.WriteAllText(_folder.File("tokenizer.json"), json);

        var error = Assert.Throws<ConfigException>(() => Load(_folder.FullPath));

        Assert.Contains($"tokenizer.json: {field}", error.Message, StringComparison.Ordinal);
        Assert.Contains("is not supported", error.Message, StringComparison.Ordinal);
        Assert.Contains("no tokenizer.model to fall back on", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tokenizer_json_of_a_kind_that_cannot_be_read_gives_way_to_a_tokenizer_model()
    {
        File.WriteAllText(_folder.File("tokenizer.json"), """{"model": {"type": "Unigram", "vocab": []}}""");
        TokenizerFolders.WriteSentencePieceModel(_folder.FullPath, [("▁", -1), ("h", -2), ("▁h", -3)]);

        Assert.IsType<LlamaTokenizer>(Load(_folder.FullPath).Backend);
    }

    [Theory]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}""", "tokenizer.json: model.merges (rank 0) uses \"b\", which is not in model.vocab")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "a"]]}}""", "tokenizer.json: model.merges (rank 0) makes \"aa\", which is not in model.vocab")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a a a"]}}""", "tokenizer.json: model.merges[0] must be two tokens separated by one space")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}}}""", "tokenizer.json: model.merges must be a list of merges")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}]}}""",
        "tokenizer.json: post_processor.single[0] names \"<s>\"")]
    public void A_malformed_sentencepiece_tokenizer_json_names_the_file_and_the_field(string json, string message)
    {
        File.WriteAllText(_folder.File("tokenizer.json"), json);

        var error = Assert.Throws<ConfigException>(() => Load(_folder.FullPath));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_an_unknown_token_in_the_vocabulary_an_unknown_character_is_a_clear_error()
    {
        File.WriteAllText(_folder.File("tokenizer.json"), """{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}}""");
        var tokenizer = Load(_folder.FullPath);

        Assert.Equal([0, 0], tokenizer.Encode("aa"));
        var error = Assert.Throws<ConfigException>(() => tokenizer.Encode("ab"));
        Assert.Contains("tokenizer.json: \"b\" has no token and model.unk_token \"<unk>\" is not in model.vocab", error.Message, StringComparison.Ordinal);
    }
}
