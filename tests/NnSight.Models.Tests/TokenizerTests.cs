using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using NnSight.Models.Configuration;
using NnSight.Models.Tokenization;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Models.Tests;

public sealed class TokenizerTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private readonly ModelTokenizer _tokenizer = fixture.Model.RequireTokenizer();

    public static TheoryData<string> PromptNames() => [.. ReferenceIndex.Gpt2.Prompts.Keys];

    [Theory]
    [MemberData(nameof(PromptNames))]
    public void Gpt2_encoding_gives_the_reference_ids(string prompt)
    {
        var (text, ids) = ReferenceIndex.Gpt2.Prompts[prompt];

        Assert.Equal(ids, _tokenizer.Encode(text).Select(id => (long)id));
    }

    [Theory]
    [MemberData(nameof(PromptNames))]
    public void Decoding_the_reference_ids_gives_the_prompt_back(string prompt)
    {
        var (text, ids) = ReferenceIndex.Gpt2.Prompts[prompt];

        Assert.Equal(text, _tokenizer.Decode(ids));
        using var row = tensor(ids);
        Assert.Equal(text, _tokenizer.Decode(row));
    }

    [Fact]
    public void Single_tokens_have_the_reference_ids()
    {
        foreach (var (text, id) in ReferenceIndex.Gpt2.Tokens.Where(token => !token.Key.StartsWith("<|", StringComparison.Ordinal)))
        {
            Assert.Equal([(int)id], _tokenizer.Encode(text));
        }
        Assert.Equal("<|endoftext|>", _tokenizer.Decode([50256L]));
    }

    [Fact]
    public void Padding_is_the_end_of_sequence_token_for_gpt2()
    {
        Assert.Equal(50256, _tokenizer.EndOfSequenceId);
        Assert.Equal(50256, _tokenizer.PaddingId);
    }

    [Fact]
    public void DecodeBatch_decodes_each_row_and_Decode_refuses_two_dimensions()
    {
        var prompts = ReferenceIndex.Gpt2.Prompts;
        using var rows = stack([tensor(prompts["ioi_clean"].Ids), tensor(prompts["ioi_corrupt"].Ids)]);

        Assert.Equal([prompts["ioi_clean"].Text, prompts["ioi_corrupt"].Text], _tokenizer.DecodeBatch(rows));
        var error = Assert.Throws<ArgumentException>(() => _tokenizer.Decode(rows));
        Assert.Contains("[2, 14]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_with_vocab_and_merges_uses_its_byte_level_bpe()
    {
        using var folder = new TemporaryFolder();
        TokenizerFolders.WriteVocabularyAndMerges(folder.FullPath, mergedWords: ["Hello", " world"]);
        var config = new Gpt2.GPT2Config();

        var tokenizer = ModelTokenizer.FromPretrained(folder.FullPath, config, endOfSequenceId: 0, paddingId: null)!;

        Assert.IsType<BpeTokenizer>(tokenizer.Backend);
        var ids = tokenizer.Encode("Hello world!");
        Assert.Equal(["Hello", "Ġworld", "!"], ids.Select(id => ((BpeTokenizer)tokenizer.Backend).Vocabulary.Single(pair => pair.Value == id).Key));
        Assert.Equal("Hello world!", tokenizer.Decode(ids));
    }

    [Fact]
    public void A_model_type_without_a_bundled_tokenizer_and_no_files_has_none()
    {
        using var folder = new TemporaryFolder();
        var config = new Gpt2.GPT2Config { ModelType = "llama" };

        Assert.Null(ModelTokenizer.FromPretrained(folder.FullPath, config, 2, 0));
    }
}
