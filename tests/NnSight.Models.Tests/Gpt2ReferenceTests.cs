using NnSight.Models.Generation;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Models.Tests;

/// <summary>The TorchSharp GPT-2 against HuggingFace transformers 4.36.2 outputs on the bundled tiny checkpoint.</summary>
public sealed class Gpt2ReferenceTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private static readonly ReferenceIndex Reference = ReferenceIndex.Gpt2;
    private readonly LanguageModel _model = fixture.Model;

    private string Prompt(string name) => Reference.Prompts[name].Text;

    [Fact]
    public void Scenario01_last_block_output_and_logits_equal_huggingface()
    {
        var scenario = Reference.Scenario("01_trace_save");
        using var batch = _model.Tokenize([Prompt("eiffel")]);
        using var outputs = new ModuleOutputs(_model.Module);
        using var output = _model.Forward(batch);

        scenario.Expect("input_ids", batch.InputIds);
        scenario.Expect("hidden", outputs["transformer.h.3.0"]);
        scenario.Expect("logits", output.Logits);
        using var last = output.Logits.select(1, -1).argmax(-1);
        scenario.Expect("last_argmax", last);
        var (values, ids) = output.Logits.topk(5, dim: -1);
        using (values)
        using (ids)
        {
            scenario.Expect("top5_ids", ids);
            scenario.Expect("top5_values", values);
        }
    }

    [Fact]
    public void Scenario04_greedy_generation_with_cache_equals_huggingface_per_step()
    {
        var scenario = Reference.Scenario("04_generate");
        using var batch = _model.Tokenize([Prompt("eiffel")]);
        using var outputs = new ModuleOutputs(_model.Module);
        using var result = _model.GenerateIds(batch, new GenerationOptions { MaxNewTokens = 3 });

        scenario.Expect("input_ids", batch.InputIds);
        scenario.Expect("sequences", result.Sequences);
        using var scores = result.Scores.squeeze(1);
        scenario.Expect("scores", scores);
        Assert.Equal(3, outputs.Calls("transformer.h.3.0"));
        scenario.Expect("hidden_step0", outputs["transformer.h.3.0", 0]);
        scenario.Expect("hidden_step1", outputs["transformer.h.3.0", 1]);
        scenario.Expect("hidden_step2", outputs["transformer.h.3.0", 2]);
    }

    [Fact]
    public void Scenario05b_left_padded_batch_equals_huggingface_at_real_positions()
    {
        var scenario = Reference.Scenario("05b_left_padding_generate");
        using var batch = _model.Tokenize([Prompt("eiffel"), Prompt("ioi_clean")]);
        using var outputs = new ModuleOutputs(_model.Module);
        using var result = _model.GenerateIds(batch, new GenerationOptions { MaxNewTokens = 3 });

        scenario.Expect("input_ids", batch.InputIds);
        scenario.Expect("attention_mask", batch.AttentionMask);
        using var positions = TokenBatch.PositionIds(batch.AttentionMask);
        scenario.Expect("position_ids", positions);
        scenario.Expect("sequences", result.Sequences);
        scenario.Expect("scores", result.Scores);
        using var realPositions = batch.AttentionMask.unsqueeze(-1);
        scenario.Expect("hidden_step0_masked", outputs["transformer.h.3.0", 0], where: realPositions);
        scenario.Expect("hidden_step1", outputs["transformer.h.3.0", 1]);
        scenario.Expect("hidden_step2", outputs["transformer.h.3.0", 2]);
    }

    [Fact]
    public void Fused_attention_gives_huggingfaces_logits_and_left_padded_generation()
    {
        // No hook observes the probabilities, so every layer takes libtorch's fused kernel (the tests above are eager).
        Assert.False(_model.Module.EagerAttention);
        using var batch = _model.Tokenize([Prompt("eiffel")]);
        using var output = _model.Forward(batch);
        Reference.Scenario("01_trace_save").Expect("logits", output.Logits);

        var padded = Reference.Scenario("05b_left_padding_generate");
        using var pair = _model.Tokenize([Prompt("eiffel"), Prompt("ioi_clean")]);
        using var result = _model.GenerateIds(pair, new GenerationOptions { MaxNewTokens = 3 });
        padded.Expect("sequences", result.Sequences);
        padded.Expect("scores", result.Scores);
    }

    [Fact]
    public void Scenario07_every_submodule_output_equals_huggingface()
    {
        var scenario = Reference.Scenario("07_cache_all");
        using var batch = _model.Tokenize([Prompt("eiffel")]);
        using var outputs = new ModuleOutputs(_model.Module);
        using var output = _model.Forward(batch);

        Assert.Equal(55, scenario.TensorNames.Count);
        foreach (var key in scenario.TensorNames)
        {
            Assert.Equal(1, outputs.Calls(key));
            scenario.Expect(key, outputs[key]);
        }
    }

    [Fact]
    public void A_left_padded_prompt_gives_the_hidden_states_it_gives_alone()
    {
        using var alone = _model.Tokenize([Prompt("eiffel")]);
        using var padded = _model.Tokenize([Prompt("eiffel"), Prompt("ioi_clean")]);
        Tensor aloneHidden, paddedHidden;
        using (var outputs = new ModuleOutputs(_model.Module))
        using (_model.Forward(alone))
        {
            aloneHidden = outputs["transformer.h.3.0"].clone();
        }
        using (var outputs = new ModuleOutputs(_model.Module))
        using (_model.Forward(padded))
        {
            paddedHidden = outputs["transformer.h.3.0"].select(0, 0).narrow(0, 4, 10).unsqueeze(0).clone();
        }
        TensorAssert.Close(aloneHidden, paddedHidden, rtol: 1e-5, atol: 1e-6, "eiffel padded by 4");
        aloneHidden.Dispose();
        paddedHidden.Dispose();
    }
}
