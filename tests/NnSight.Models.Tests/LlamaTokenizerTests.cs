using Microsoft.ML.Tokenizers;
using NnSight.Models.Llama;
using NnSight.Models.Tokenization;
using NnSight.TestSupport;

namespace NnSight.Models.Tests;

/// <summary>The Llama family's tokenizer files read from a model folder: SentencePiece, tiktoken ranks, tokenizer.json.</summary>
public sealed class LlamaTokenizerTests : IDisposable
{
    private const string Qwen2Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>SentencePiece pieces after &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt; (ids 3..16); higher scores merge first.</summary>
    private static readonly (string, float)[] Pieces =
    [
        ("▁", -10), ("h", -11), ("e", -12), ("l", -13), ("o", -14), ("w", -15), ("r", -16), ("d", -17),
        ("ll", -1), ("▁h", -2), ("▁he", -3), ("llo", -4), ("▁hello", -5), ("▁w", -6),
    ];

    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static ModelTokenizer Load(string folder) =>
        ModelTokenizer.FromPretrained(folder, new LlamaConfig(), endOfSequenceId: 2, paddingId: 0) ?? throw new InvalidOperationException("no tokenizer");

    [Fact]
    public void A_sentencepiece_model_encodes_with_the_dummy_prefix_and_a_leading_bos()
    {
        TokenizerFolders.WriteSentencePieceModel(_folder.FullPath, Pieces);

        var tokenizer = Load(_folder.FullPath);

        Assert.IsType<LlamaTokenizer>(tokenizer.Backend);
        Assert.Equal([1, 15, 16, 7, 9, 6, 10], tokenizer.Encode("hello world"));
        Assert.Equal("hello world", tokenizer.Decode(new[] { 15, 16, 7, 9, 6, 10 }));
    }

    [Fact]
    public void Tokenizer_config_can_turn_the_bos_off()
    {
        TokenizerFolders.WriteSentencePieceModel(_folder.FullPath, Pieces);
        File.WriteAllText(_folder.File("tokenizer_config.json"), """{"add_bos_token": false, "add_eos_token": true}""");

        Assert.Equal([15, 16, 7, 9, 6, 10, 2], Load(_folder.FullPath).Encode("hello world"));
    }

    [Fact]
    public void Llama3_tiktoken_ranks_use_its_digit_groups_and_special_tokens()
    {
        TokenizerFolders.WriteTiktokenRanks(_folder.FullPath, ["34", "12", "45"]);

        var tokenizer = Load(_folder.FullPath);

        Assert.IsType<TiktokenTokenizer>(tokenizer.Backend);
        Assert.Equal(259, tokenizer.PrependedId);
        Assert.Equal([259, 257, 51, 258, 268], tokenizer.Encode("12345<|eot_id|>"));
        Assert.Equal("12345", tokenizer.Decode(new[] { 257, 51, 258 }));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_qwen2_tokenizer_json_reads_its_own_pattern_added_tokens_and_nfc(bool mergesAsPairs)
    {
        TokenizerFolders.WriteTokenizerJson(_folder.FullPath, ["hi", "12"], Qwen2Pattern, ["<|endoftext|>"], mergesAsPairs, normalizer: "NFC");
        TokenizerFolders.WriteVocabularyAndMerges(_folder.FullPath, ["hi", "12"]);

        var tokenizer = Load(_folder.FullPath);

        Assert.IsType<BpeTokenizer>(tokenizer.Backend);
        Assert.Null(tokenizer.PrependedId);
        Assert.Equal([256, 32, 49, 50, 258], tokenizer.Encode("hi 12<|endoftext|>"));
        Assert.Equal([195, 169], tokenizer.Encode("e\u0301"));
        Assert.Equal("hi 12", tokenizer.Decode(new[] { 256, 32, 49, 50 }));
    }

    [Fact]
    public void A_llama3_tokenizer_json_puts_its_template_token_first()
    {
        TokenizerFolders.WriteTokenizerJson(_folder.FullPath, ["hi"], Llama3Pattern, ["<|begin_of_text|>", "<|end_of_text|>"], templateFirstToken: "<|begin_of_text|>");

        Assert.Equal([257, 256], Load(_folder.FullPath).Encode("hi"));
    }

    [Fact]
    public void A_tokenizer_json_of_another_kind_without_a_fallback_is_a_clear_error()
    {
        File.WriteAllText(_folder.File("tokenizer.json"), """{"model": {"type": "WordPiece", "vocab": {}}, "pre_tokenizer": {"type": "BertPreTokenizer"}}""");

        var error = Assert.Throws<ConfigException>(() => Load(_folder.FullPath));

        Assert.Contains("tokenizer.json: model.type \"WordPiece\" is not supported (supported: BPE). The folder has no tokenizer.model to fall back on.",
            error.Message, StringComparison.Ordinal);
        Assert.Equal("model.type", error.Key);
    }

    [Fact]
    public void A_byte_level_tokenizer_json_without_merges_names_the_file()
    {
        File.WriteAllText(_folder.File("tokenizer.json"), """{"model": {"type": "BPE", "vocab": {"a": 0}}, "pre_tokenizer": {"type": "ByteLevel"}}""");

        var error = Assert.Throws<ConfigException>(() => Load(_folder.FullPath));

        Assert.Contains("tokenizer.json: the BPE model is incomplete or of the wrong type", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tiny_llama_folder_with_a_tokenizer_takes_text()
    {
        foreach (var file in Directory.GetFiles(RepositoryPaths.TinyLlama))
        {
            File.Copy(file, _folder.File(Path.GetFileName(file)));
        }
        TokenizerFolders.WriteSentencePieceModel(_folder.FullPath, Pieces);

        using var model = LanguageModel.FromPretrained(_folder.FullPath);
        using var batch = model.Tokenize(["hello world", "hello"]);

        Assert.Equal([1L, 15, 16, 7, 9, 6, 10], batch.InputIds[0].data<long>().ToArray());
        Assert.Equal([0L, 0, 0, 0, 0, 1, 15], batch.InputIds[1].data<long>().ToArray());
        using var output = model.Forward(batch);
        Assert.Equal([2L, 7L, 512L], output.Logits.shape);
    }
}
