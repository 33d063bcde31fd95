using NnSight.Models.Generation;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Models.Tests;

public sealed class LanguageModelTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private const long Paris = 6342;
    private const long EndOfText = 50256;
    private readonly LanguageModel _model = fixture.Model;
    private static string Eiffel => ReferenceIndex.Gpt2.Prompts["eiffel"].Text;
    private static string IoiClean => ReferenceIndex.Gpt2.Prompts["ioi_clean"].Text;

    [Fact]
    public void ToString_prints_the_module_tree_like_pytorch()
    {
        const string Expected = """
            GPT2LMHeadModel(
              (transformer): GPT2Model(
                (wte): Embedding(50257, 64)
                (wpe): Embedding(128, 64)
                (drop): Dropout(p=0.1, inplace=False)
                (h): ModuleList(
                  (0-3): 4 x GPT2Block(
                    (ln_1): LayerNorm((64,), eps=1e-05, elementwise_affine=True)
                    (attn): GPT2Attention(
                      (c_attn): Linear(in_features=64, out_features=192, bias=True)
                      (c_proj): Linear(in_features=64, out_features=64, bias=True)
                      (attn_dropout): Dropout(p=0.1, inplace=False)
                      (resid_dropout): Dropout(p=0.1, inplace=False)
                    )
                    (ln_2): LayerNorm((64,), eps=1e-05, elementwise_affine=True)
                    (mlp): GPT2MLP(
                      (c_fc): Linear(in_features=64, out_features=256, bias=True)
                      (c_proj): Linear(in_features=256, out_features=64, bias=True)
                      (act): NewGELUActivation()
                      (dropout): Dropout(p=0.1, inplace=False)
                    )
                  )
                )
                (ln_f): LayerNorm((64,), eps=1e-05, elementwise_affine=True)
              )
              (lm_head): Linear(in_features=64, out_features=50257, bias=False)
            )
            """;

        Assert.Equal(Expected, _model.ToString());
    }

    [Fact]
    public void Tokenize_left_pads_with_the_eos_token_and_masks_the_pads()
    {
        using var batch = _model.Tokenize([Eiffel, IoiClean]);

        Assert.Equal([2L, 14L], batch.InputIds.shape);
        Assert.Equal([EndOfText, EndOfText, EndOfText, EndOfText, 464L], batch.InputIds[0].narrow(0, 0, 5).data<long>().ToArray());
        Assert.Equal([0L, 0L, 0L, 0L, 1L], batch.AttentionMask[0].narrow(0, 0, 5).data<long>().ToArray());
        Assert.Equal([10L, 14L], batch.RealLengths());
    }

    [Fact]
    public void Position_ids_count_real_tokens_and_set_pads_to_one()
    {
        using var mask = tensor(new long[] { 0, 0, 1, 1, 1 }).unsqueeze(0);

        using var positions = TokenBatch.PositionIds(mask);

        Assert.Equal([1L, 1L, 0L, 1L, 2L], positions.data<long>().ToArray());
    }

    [Fact]
    public void A_forward_past_n_positions_is_an_error_naming_the_limit()
    {
        using var batch = _model.Batch([Enumerable.Repeat(Paris, 129).ToList()]);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _model.Forward(batch));

        Assert.Contains("position 128 (sequence of 129 tokens) is past n_positions = 128", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Generation_that_would_pass_n_positions_is_refused_before_running()
    {
        using var batch = _model.Batch([Enumerable.Repeat(Paris, 120).ToList()]);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _model.GenerateIds(batch, new GenerationOptions { MaxNewTokens = 9 }));

        Assert.Contains("120 tokens and 9 new tokens are asked for: 129 positions, past this model's 128", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_row_that_produces_eos_stops_and_is_padded_while_others_go_on()
    {
        var greedyFirstToken = ReferenceIndex.Gpt2.Scenario("04_generate");
        using var expected = greedyFirstToken.Load("sequences");
        var eiffelFirst = expected[0, 10].item<long>();

        using var result = _model.GenerateIds([Eiffel, IoiClean],
            new GenerationOptions { MaxNewTokens = 3, EosTokenId = (int)eiffelFirst, PadTokenId = 0 });

        Assert.Equal([eiffelFirst, 0L, 0L], result.Sequences[0].narrow(0, 14, 3).data<long>().ToArray());
        Assert.Equal([7502L, 7502L, 7502L], result.Sequences[1].narrow(0, 14, 3).data<long>().ToArray());
    }

    [Fact]
    public void Generation_ends_when_every_row_has_produced_eos()
    {
        using var expected = ReferenceIndex.Gpt2.Scenario("04_generate").Load("sequences");

        using var result = _model.GenerateIds([Eiffel], new GenerationOptions { MaxNewTokens = 5, EosTokenId = (int)expected[0, 10].item<long>() });

        Assert.Equal(1, result.Steps);
        Assert.Equal([1L, 11L], result.Sequences.shape);
    }

    [Fact]
    public void Sampling_with_a_seed_is_reproducible_and_top_k_one_is_greedy()
    {
        var sampling = new GenerationOptions { MaxNewTokens = 4, DoSample = true, Temperature = 0.7, TopP = 0.9, Seed = 42 };
        using var first = _model.GenerateIds([Eiffel], sampling);
        using var second = _model.GenerateIds([Eiffel], sampling);
        using var topOne = _model.GenerateIds([Eiffel], sampling with { TopK = 1, Seed = 7 });
        using var greedy = _model.GenerateIds([Eiffel], new GenerationOptions { MaxNewTokens = 4 });

        TensorAssert.Equal(first.Sequences, second.Sequences, "same seed");
        TensorAssert.Equal(greedy.Sequences, topOne.Sequences, "top-k 1");
        Assert.True(topOne.Scores.isinf().sum().item<long>() == 4 * (50257 - 1), "top-k 1 leaves one finite score per step");
    }

    [Fact]
    public void Sampling_draws_from_the_whole_distribution_without_warpers()
    {
        var distinct = Enumerable.Range(0, 8).Select(seed =>
        {
            using var result = _model.GenerateIds([Eiffel],
                new GenerationOptions { MaxNewTokens = 1, DoSample = true, TopK = 0, Seed = (ulong)seed });
            return result.Sequences[0, 10].item<long>();
        }).Distinct().Count();

        Assert.True(distinct > 1, "eight seeds over a near-uniform distribution all drew the same token");
    }

    [Fact]
    public void Invalid_generation_options_name_the_option()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _model.GenerateIds([Eiffel], new GenerationOptions { TopP = 0 }));

        Assert.Equal("TopP", error.ParamName);
    }

    [Fact]
    public void An_empty_prompt_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => _model.Tokenize([Eiffel, ""]));

        Assert.Contains("Prompt 1 has no tokens", error.Message, StringComparison.Ordinal);
    }
}
