using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary><c>tracer.Cache()</c>: every module's values in the invocation's rows, read by envoy or path.</summary>
public sealed class CacheTests(TinyGpt2Fixture gpt2, TinyLlamaFixture llama) : IClassFixture<TinyGpt2Fixture>, IClassFixture<TinyLlamaFixture>
{
    [Theory]
    [InlineData("gpt2", "07_cache_all")]
    [InlineData("llama", "L07_cache_all")]
    public void A_cache_of_every_module_equals_the_reference_of_every_module(string architecture, string scenarioName)
    {
        var model = architecture == "gpt2" ? gpt2.Model : llama.Plain;
        var reference = architecture == "gpt2" ? ReferenceIndex.Gpt2 : ReferenceIndex.Llama;
        long[] ids = architecture == "gpt2" ? reference.Prompts["eiffel"].Ids : reference.Prompts["p10"].Ids;
        var scenario = reference.Scenario(scenarioName);
        ActivationCache cache;
        using (var tracer = model.Trace())
        using (tracer.Invoke(ids))
        {
            cache = tracer.Cache();
        }

        using (cache)
        {
            foreach (var key in scenario.TensorNames)
            {
                // HF 4.36 stored the rotary table for positions 0..n-1 ([n, head_dim]); ours is per row, [1, n, head_dim].
                var value = Lookup(model, cache, key);
                scenario.Expect(key, key.Contains(".rotary_emb.", StringComparison.Ordinal) ? value.squeeze(0) : value);
            }
        }
    }

    /// <summary>The reference's key convention: a module path, or a path and <c>.k</c> or <c>.present.key/value</c>.</summary>
    private static Tensor Lookup(LanguageModel model, ActivationCache cache, string key)
    {
        if (key.EndsWith(".present.key", StringComparison.Ordinal) || key.EndsWith(".present.value", StringComparison.Ordinal))
        {
            var path = key[..key.LastIndexOf(".present.", StringComparison.Ordinal)];
            var present = cache[path].Output[path.EndsWith("self_attn", StringComparison.Ordinal) ? 2 : 1];
            return present[key.EndsWith(".key", StringComparison.Ordinal) ? 0 : 1];
        }
        try
        {
            model.ModuleAt(key);
            return cache[key].Output;
        }
        catch (ModuleNotFoundException)
        {
            var split = key.LastIndexOf('.');
            return cache[key[..split]].Output[int.Parse(key[(split + 1)..], System.Globalization.CultureInfo.InvariantCulture)];
        }
    }

    [Fact]
    public void A_subtree_cache_keeps_only_what_was_asked_for_and_inputs_when_asked()
    {
        var model = gpt2.Model;
        ActivationCache cache;
        TensorProxy hidden, input;
        using (var tracer = model.Trace())
        using (tracer.Invoke(ReferenceIndex.Gpt2.Prompts["eiffel"].Text))
        {
            cache = tracer.Cache(inputs: true, model.Envoy("transformer.h.1"));
            hidden = model.Envoy("transformer.h.1").Output[0].Save();
            input = model.Envoy("transformer.h.1.mlp").Input.Save();
        }

        using (cache)
        {
            Assert.Equal(["transformer.h.1", "transformer.h.1.attn", "transformer.h.1.attn.attn_dropout", "transformer.h.1.attn.c_attn",
                "transformer.h.1.attn.c_proj", "transformer.h.1.attn.resid_dropout", "transformer.h.1.ln_1", "transformer.h.1.ln_2",
                "transformer.h.1.mlp", "transformer.h.1.mlp.act", "transformer.h.1.mlp.c_fc", "transformer.h.1.mlp.c_proj",
                "transformer.h.1.mlp.dropout"], cache.Paths.Order(StringComparer.Ordinal));
            TensorAssert.Close(hidden.Value, cache["transformer.h.1"].Output[0], 0, 0, "block output");
            TensorAssert.Close(input.Value, cache["transformer.h.1.mlp"].Inputs[0], 0, 0, "mlp input");
            Assert.Throws<ModuleNotFoundException>(() => cache["transformer.h.2"]);
        }
    }

    [Fact]
    public void A_cache_during_generation_has_one_entry_per_step()
    {
        var model = gpt2.Model;
        ActivationCache cache;
        using (var generator = model.Generate(maxNewTokens: 3))
        using (generator.Invoke(ReferenceIndex.Gpt2.Prompts["eiffel"].Text))
        {
            cache = generator.Cache(model.Envoy("transformer.h"));
        }

        using (cache)
        {
            var steps = cache["transformer.h.3"].Steps;
            var scenario = ReferenceIndex.Gpt2.Scenario("04_generate");
            Assert.Equal(3, steps.Count);
            for (var step = 0; step < 3; step++)
            {
                scenario.Expect($"hidden_step{step}", steps[step].Output[0]);
            }
        }
    }
}
