using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary>The examples of nnsight's README through the untyped API, checked against HuggingFace references.</summary>
public sealed class SeedExampleTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private static readonly ReferenceIndex Reference = ReferenceIndex.Gpt2;
    private readonly LanguageModel _model = fixture.Model;
    private static string Eiffel => Reference.Prompts["eiffel"].Text;

    private Envoy LastBlock => _model.Envoy("transformer.h")[^1];

    [Fact]
    public void Example1_saving_a_hidden_state_during_generation_equals_huggingface()
    {
        var scenario = Reference.Scenario("04_generate");
        TensorProxy hidden;
        var generator = _model.Generate(maxNewTokens: 1);
        using (generator)
        {
            using (generator.Invoke(Eiffel))
            {
                hidden = LastBlock.Output[0].Save();
            }
        }

        using var tokens = generator.Output;
        using var h = hidden.Value;
        scenario.Expect("hidden_step0", h);
        using var expected = scenario.Load("sequences");
        TensorAssert.Equal(expected.narrow(1, 0, 11), tokens, "prompt + 1 token");
    }

    [Fact]
    public void Example2_operations_on_proxies_equal_huggingface()
    {
        var scenario = Reference.Scenario("02_sum_edit");
        TensorProxy pre, sum, edited;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            pre = LastBlock.Output[0].Save();
            sum = pre.sum().Save();
            edited = (pre + sum).Save();
        }

        scenario.Expect("hidden", pre.Value);
        scenario.Expect("hs_sum", sum.Value.reshape(1));
        scenario.Expect("hs_edited", edited.Value);
    }

    [Fact]
    public void Example3_setting_an_output_equals_a_hand_written_hook()
    {
        using var generator = new Generator(11);
        using var noise = Math.Sqrt(0.001) * randn(1, 10, 64, generator: generator);
        Tensor traced;
        using (var tracer = _model.Trace())
        {
            using (tracer.Invoke(Eiffel))
            {
                var before = LastBlock.Output[0];
                Assert.Equal([1L, 10L, 64L], before.shape);
                LastBlock.Output[0] = before + noise;
            }
            tracer.Dispose();
            traced = tracer.Output;
        }

        var block = (Models.Gpt2.GPT2Block)_model.ModuleAt("transformer.h.3");
        var remover = block.register_forward_hook((_, _, _, _, output) => (output.HiddenStates + noise, output.Present));
        using var batch = _model.Tokenize([Eiffel]);
        using var expected = _model.Forward(batch);
        remover.remove();
        TensorAssert.Close(expected.Logits, traced, rtol: 1e-6, atol: 1e-7, "logits with noise");
        using var plain = _model.Forward(batch);
        Assert.False(plain.Logits.allclose(traced), "the noise changed nothing");
        traced.Dispose();
    }

    [Fact]
    public void Example4_next_binds_accesses_to_each_generated_token()
    {
        var scenario = Reference.Scenario("04_generate");
        TensorProxy h1, h2, h3;
        using (var gen = _model.Generate(maxNewTokens: 3))
        using (var invoker = gen.Invoke(Eiffel))
        {
            h1 = LastBlock.Output[0].Save();
            invoker.Next();
            h2 = LastBlock.Output[0].Save();
            invoker.Next();
            h3 = LastBlock.Output[0].Save();
        }

        scenario.Expect("hidden_step0", h1.Value);
        scenario.Expect("hidden_step1", h2.Value);
        scenario.Expect("hidden_step2", h3.Value);
    }

    [Fact]
    public void Example5_token_indexing_ignores_left_padding()
    {
        var scenario = Reference.Scenario("01_trace_save");
        TensorProxy first, firstPadded, lastPadded;
        using (var tracer = _model.Trace())
        {
            using (tracer.Invoke(Eiffel))
            {
                first = LastBlock.Output[0].Token[0].Save();
            }
            using (tracer.Invoke(Reference.Prompts["ioi_clean"].Text))
            {
            }
            using (tracer.Invoke(Eiffel))
            {
                firstPadded = LastBlock.Output[0].Token[0].Save();
                lastPadded = LastBlock.Output[0].Token[^1].Save();
            }
        }

        using var hidden = scenario.Load("hidden");
        Assert.Equal([1L, 64L], first.Value.shape);
        TensorAssert.Close(hidden.select(1, 0), first.Value, 1e-4, 1.2e-5, "Token[0]");
        TensorAssert.Close(hidden.select(1, 0), firstPadded.Value, 1e-4, 1.2e-5, "Token[0] of a padded row");
        TensorAssert.Close(hidden.select(1, 9), lastPadded.Value, 1e-4, 1.2e-5, "Token[^1] of a padded row");
    }

    [Fact]
    public void Example6_a_value_from_one_invocation_sets_another()
    {
        var madison = Reference.Prompts["madison"].Text;
        var swap = _model.Generate(maxNewTokens: 3);
        using (swap)
        {
            TensorProxy embeddings;
            using (swap.Invoke(madison))
            {
                embeddings = _model.Envoy("transformer.wte").Output;
            }
            using (swap.Invoke(Reference.Prompts["underscores"].Text))
            {
                _model.Envoy("transformer.wte").Output = embeddings;
            }
        }

        using var tokens = swap.Output;
        using var alone = _model.GenerateIds([madison], new GenerationOptions { MaxNewTokens = 3 });
        TensorAssert.Equal(alone.Sequences[0].narrow(0, 10, 3), tokens[1].narrow(0, 10, 3), "swapped row continues as madison");
        TensorAssert.Equal(alone.Sequences[0], tokens[0], "madison row unchanged");
        Assert.Equal(Reference.Prompts["underscores"].Text, _model.RequireTokenizer().Decode(tokens[1].narrow(0, 0, 10)));
    }

    [Fact]
    public void Example7_the_logit_lens_calls_modules_out_of_order()
    {
        var scenario = Reference.Scenario("01_trace_save");
        TensorProxy logits, ids;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            var last = LastBlock.Output[0];
            logits = _model.Envoy("lm_head").Call(_model.Envoy("transformer.ln_f").Call(last)).Save();
            ids = logits.softmax(2).argmax(2).Save();
            Assert.Equal([1L, 10L, 50257L], logits.shape);
            Assert.Equal([1L, 10L], ids.shape);
        }

        scenario.Expect("logits", logits.Value);
        using var top = scenario.Load("top5_ids");
        TensorAssert.Equal(top.select(2, 0), ids.Value, "argmax of the lens");
    }

    [Fact]
    public void Example8_activation_patching_equals_a_hand_written_patch()
    {
        var clean = Reference.Prompts["ioi_clean"].Text;
        var corrupt = Reference.Prompts["ioi_corrupt"].Text;
        TensorProxy patched;
        using (var tracer = _model.Trace())
        {
            TensorProxy cleanHidden;
            using (tracer.Invoke(clean))
            {
                cleanHidden = _model.Envoy("transformer.h")[2].Output[0];
            }
            using (tracer.Invoke(corrupt))
            {
                _model.Envoy("transformer.h")[2].Output[0][.., 13] = cleanHidden[.., 13];
                patched = _model.Envoy("lm_head").Output[.., ^1].Save();
            }
        }

        // A plain hook, so the hand-written runs compute attention as the trace's do (fused: no probability is observed).
        Tensor? cleanBlock2 = null;
        var block = (Models.Gpt2.GPT2Block)_model.ModuleAt("transformer.h.2");
        var capture = block.register_forward_hook((_, _, _, _, output) =>
        {
            cleanBlock2 = output.HiddenStates.clone().DetachFromDisposeScope();
            return output;
        });
        using (var cleanBatch = _model.Tokenize([clean]))
        using (_model.Forward(cleanBatch))
        {
            capture.remove();
        }
        var remover = block.register_forward_hook((_, _, _, _, output) =>
        {
            var hidden = output.HiddenStates.clone();
            hidden[.., 13] = cleanBlock2![.., 13];
            return (hidden, output.Present);
        });
        using var corruptBatch = _model.Tokenize([corrupt]);
        using var expected = _model.Forward(corruptBatch);
        remover.remove();
        TensorAssert.Close(expected.Logits[.., ^1], patched.Value, 1e-6, 1e-7, "patched last-position logits");
        using var unpatched = _model.Forward(corruptBatch);
        Assert.False(unpatched.Logits[.., ^1].allclose(patched.Value), "the patch changed nothing");
        cleanBlock2!.Dispose();
    }
}
