using NnSight.Models.Generation;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Models.Tests;

/// <summary>The TorchSharp Llama against HuggingFace transformers 4.36.2 outputs on the bundled tiny checkpoints.</summary>
public sealed class LlamaReferenceTests(TinyLlamaFixture fixture) : IClassFixture<TinyLlamaFixture>
{
    private const string LastLayer = "model.layers.3.0";
    private static readonly ReferenceIndex Reference = ReferenceIndex.Llama;

    private static IReadOnlyList<long> Prompt => Reference.Prompts["p10"].Ids;

    [Theory]
    [InlineData("L01_trace_save")]
    [InlineData("LB01_trace_save")]
    public void Last_layer_output_and_logits_equal_huggingface(string name)
    {
        var scenario = Reference.Scenario(name);
        var model = fixture.For(name);
        using var batch = model.Batch([Prompt]);
        using var outputs = new ModuleOutputs(model.Module);
        using var output = model.Forward(batch);

        scenario.Expect("input_ids", batch.InputIds);
        scenario.Expect("hidden", outputs[LastLayer]);
        scenario.Expect("logits", output.Logits);
        using var last = output.Logits.select(1, -1).argmax(-1);
        scenario.Expect("last_argmax", last);
    }

    [Theory]
    [InlineData("L01_trace_save", "L04_generate")]
    [InlineData("LB01_trace_save", "LB04_generate")]
    public void Fused_attention_gives_huggingfaces_logits_and_generation(string forward, string generation)
    {
        // No hook observes the probabilities, so every layer takes libtorch's fused kernel (the tests around are eager).
        var model = fixture.For(forward);
        Assert.False(model.Module.EagerAttention);
        using var batch = model.Batch([Prompt]);
        using var output = model.Forward(batch);
        Reference.Scenario(forward).Expect("logits", output.Logits);

        using var result = model.GenerateIds(batch, new GenerationOptions { MaxNewTokens = 4 });
        var steps = Reference.Scenario(generation);
        steps.Expect("sequences", result.Sequences);
        using var scores = result.Scores.squeeze(1);
        steps.Expect("scores", scores);
    }

    [Theory]
    [InlineData("L04_generate")]
    [InlineData("LB04_generate")]
    public void Greedy_generation_with_cache_equals_huggingface_per_step(string name)
    {
        var scenario = Reference.Scenario(name);
        var model = fixture.For(name);
        using var batch = model.Batch([Prompt]);
        using var outputs = new ModuleOutputs(model.Module);
        using var result = model.GenerateIds(batch, new GenerationOptions { MaxNewTokens = 4 });

        scenario.Expect("input_ids", batch.InputIds);
        scenario.Expect("sequences", result.Sequences);
        using var scores = result.Scores.squeeze(1);
        scenario.Expect("scores", scores);
        Assert.Equal(4, outputs.Calls(LastLayer));
        for (var step = 0; step < 4; step++)
        {
            scenario.Expect($"hidden_step{step}", outputs[LastLayer, step]);
        }
    }

    [Theory]
    [InlineData("L07_cache_all")]
    [InlineData("LB07_cache_all")]
    public void Every_submodule_output_equals_huggingface(string name)
    {
        var scenario = Reference.Scenario(name);
        var model = fixture.For(name);
        using var batch = model.Batch([Prompt]);
        using var outputs = new ModuleOutputs(model.Module);
        using var output = model.Forward(batch);

        Assert.Equal(75, scenario.TensorNames.Count);
        foreach (var key in scenario.TensorNames)
        {
            Assert.Equal(1, outputs.Calls(key));
            scenario.Expect(key, RotaryTable(key, outputs[key]));
        }
    }

    /// <summary>
    /// HF 4.36 stored rotary_emb's cos/sin table for positions 0..n−1, <c>[n, head_dim]</c>; this rotary embedding
    /// returns them per row at the row's position ids, <c>[batch, n, head_dim]</c>, which for one row at 0..n−1 is that table.
    /// </summary>
    private static Tensor RotaryTable(string key, Tensor output) => key.Contains(".rotary_emb.", StringComparison.Ordinal) ? output.squeeze(0) : output;

    [Fact]
    public void A_left_padded_batch_gives_each_prompt_what_it_gives_alone()
    {
        var model = fixture.Bias;
        long[] shorter = [.. Prompt.Take(6)];
        using var padded = model.Batch([Prompt, shorter]);
        using var paddedOutputs = new ModuleOutputs(model.Module);
        using var paddedResult = model.GenerateIds(padded, new GenerationOptions { MaxNewTokens = 3 });

        for (var row = 0; row < 2; row++)
        {
            IReadOnlyList<long> prompt = row == 0 ? Prompt : shorter;
            using var alone = model.Batch([prompt]);
            using var aloneOutputs = new ModuleOutputs(model.Module);
            using var aloneResult = model.GenerateIds(alone, new GenerationOptions { MaxNewTokens = 3 });

            var padding = Prompt.Count - prompt.Count;
            using var paddedHidden = paddedOutputs[LastLayer, 0].select(0, row).narrow(0, padding, prompt.Count);
            TensorAssert.Close(aloneOutputs[LastLayer, 0].squeeze(0), paddedHidden, rtol: 1e-5, atol: 1e-6, $"row {row} prompt hidden states");
            for (var step = 1; step < 3; step++)
            {
                using var stepHidden = paddedOutputs[LastLayer, step].select(0, row);
                TensorAssert.Close(aloneOutputs[LastLayer, step].squeeze(0), stepHidden, rtol: 1e-5, atol: 1e-6, $"row {row} step {step}");
            }
            using var generated = paddedResult.Sequences.select(0, row).narrow(0, Prompt.Count, 3);
            using var aloneGenerated = aloneResult.Sequences.select(0, 0).narrow(0, prompt.Count, 3);
            TensorAssert.Equal(aloneGenerated, generated, $"row {row} generated ids");
        }
    }
}
