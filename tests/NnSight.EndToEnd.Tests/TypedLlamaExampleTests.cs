using NnSight.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.EndToEnd.Tests;

/// <summary>
/// nnsight's README examples 1–8 on the tiny Llama through the typed tree, with token ids, checked against HuggingFace's
/// reference outputs (L01: one forward of prompt p10; L04: greedy generation of four tokens).
/// </summary>
public sealed class TypedLlamaExampleTests : IDisposable
{
    private static readonly ReferenceIndex Reference = ReferenceIndex.Llama;
    private static readonly long[] Prompt = Reference.Prompts["p10"].Ids;
    private readonly TinyLlama _model = TinyLlama.FromPretrained(RepositoryPaths.TinyLlama);
    private readonly ReferenceScenario _forward = Reference.Scenario("L01_trace_save");
    private readonly ReferenceScenario _generation = Reference.Scenario("L04_generate");

    public void Dispose() => _model.Dispose();

    [Fact]
    public void The_model_prints_its_module_tree()
    {
        var tree = _model.ToString();

        Assert.StartsWith("LlamaForCausalLM(\n  (model): LlamaModel(\n    (embed_tokens): Embedding(512, 64)\n    (layers): ModuleList(\n      (0-3): 4 x LlamaDecoderLayer(\n        (self_attn): LlamaAttention(\n", tree, StringComparison.Ordinal);
        Assert.Contains("          (k_proj): Linear(in_features=64, out_features=32, bias=False)\n", tree, StringComparison.Ordinal);
        Assert.Contains("          (rotary_emb): LlamaRotaryEmbedding()\n", tree, StringComparison.Ordinal);
        Assert.Contains("          (act_fn): SiLU()\n", tree, StringComparison.Ordinal);
        Assert.EndsWith("    (norm): LlamaRMSNorm()\n  )\n  (lm_head): Linear(in_features=64, out_features=512, bias=False)\n)", tree, StringComparison.Ordinal);
    }

    [Fact]
    public void Example1_save_while_generating()
    {
        var generator = _model.Generate(maxNewTokens: 4);
        TensorProxy hidden;
        using (generator)
        using (generator.Invoke(Prompt))
        {
            hidden = _model.Model.Layers[^1].Output[0].Save();
        }

        _generation.Expect("hidden_step0", hidden.Value);
        _generation.Expect("sequences", generator.Output);
    }

    [Fact]
    public void Example2_operations()
    {
        TensorProxy pre, sum, edited;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Prompt))
        {
            pre = _model.Model.Layers[^1].Output[0].Save();
            sum = pre.sum().Save();
            edited = (pre + sum).Save();
        }

        _forward.Expect("hidden", pre.Value);
        using var expectedSum = pre.Value.sum();
        TensorAssert.Equal(expectedSum, sum.Value, "sum");
        using var expectedEdited = pre.Value + expectedSum;
        TensorAssert.Equal(expectedEdited, edited.Value, "edited");
    }

    [Fact]
    public void Example3_setting_replaces_the_value_flowing_on()
    {
        using var noise = randn(1, 10, 64, generator: new Generator(7)) * Math.Sqrt(0.001);
        var tracer = _model.Trace();
        using (tracer)
        using (tracer.Invoke(Prompt))
        {
            var before = _model.Model.Layers[^1].Output[0];
            _model.Model.Layers[^1].Output[0] = before + noise;
        }

        using var hidden = _forward.Load("hidden");
        using var expected = Head(Norm(hidden + noise));
        TensorAssert.Close(expected, tracer.Output, rtol: 1e-5, atol: 1e-5, "logits of the noised last layer");
    }

    [Fact]
    public void Example4_next_reads_each_generation_step()
    {
        TensorProxy h0, h1, h2, h3;
        using (var generator = _model.Generate(maxNewTokens: 4))
        using (var invoker = generator.Invoke(Prompt))
        {
            h0 = _model.Model.Layers[^1].Output[0].Save();
            invoker.Next();
            h1 = _model.Model.Layers[^1].Output[0].Save();
            invoker.Next();
            h2 = _model.Model.Layers[^1].Output[0].Save();
            invoker.Next();
            h3 = _model.Model.Layers[^1].Output[0].Save();
        }

        _generation.Expect("hidden_step0", h0.Value);
        _generation.Expect("hidden_step1", h1.Value);
        _generation.Expect("hidden_step2", h2.Value);
        _generation.Expect("hidden_step3", h3.Value);
    }

    [Fact]
    public void Example5_token_indexing_ignores_left_padding()
    {
        TensorProxy first, last;
        using (var tracer = _model.Trace())
        {
            using (tracer.Invoke(Prompt[..6]))
            {
            }
            using (tracer.Invoke(Prompt))
            {
                first = _model.Model.Layers[^1].Output[0].Token[0].Save();
                last = _model.Model.Layers[^1].Output[0].Token[^1].Save();
            }
        }

        _forward.ExpectPart("hidden", hidden => hidden.select(1, 0), first.Value);
        _forward.ExpectPart("hidden", hidden => hidden.select(1, -1), last.Value);
    }

    [Fact]
    public void Example6_cross_prompt_embeddings_make_the_other_prompt_generate_the_same()
    {
        var swap = _model.Generate(maxNewTokens: 3);
        using (swap)
        {
            TensorProxy embeddings;
            using (swap.Invoke(Prompt))
            {
                embeddings = _model.Model.EmbedTokens.Output;
            }
            using (swap.Invoke([.. Enumerable.Repeat(7L, Prompt.Length)]))
            {
                _model.Model.EmbedTokens.Output = embeddings;
            }
        }

        using var swappedNew = swap.Output[1].narrow(0, Prompt.Length, 3);
        _generation.ExpectPart("sequences", sequences => sequences.narrow(1, Prompt.Length, 3).squeeze(0), swappedNew);
    }

    [Fact]
    public void Example7_logit_lens_by_ad_hoc_module_calls()
    {
        TensorProxy logits, ids;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Prompt))
        {
            var last = _model.Model.Layers[^1].Output[0];
            logits = _model.LmHead.Call(_model.Model.Norm.Call(last)).Save();
            ids = logits.softmax(2).argmax(2).Save();
        }

        _forward.Expect("logits", logits.Value);
        using var expected = _forward.Load("logits");
        using var expectedIds = expected.argmax(2);
        TensorAssert.Equal(expectedIds, ids.Value, "logit-lens ids");
    }

    [Fact]
    public void Example8_patching_the_changed_positions_restores_the_clean_prediction()
    {
        var corrupted = (long[])Prompt.Clone();
        corrupted[5] = 7;
        TensorProxy patched;
        using (var tracer = _model.Trace())
        {
            TensorProxy clean;
            using (tracer.Invoke(Prompt))
            {
                clean = _model.Model.Layers[2].Output[0];
            }
            using (tracer.Invoke(corrupted))
            {
                _model.Model.Layers[2].Output[0][.., 5..] = clean[.., 5..];
                patched = _model.LmHead.Output[.., ^1].Save();
            }
        }

        _forward.ExpectPart("logits", logits => logits.select(1, -1), patched.Value);
    }

    [Fact]
    public void Tuple_outputs_of_attention_and_rotary_embedding_save_what_huggingface_computes_per_invocation()
    {
        var everything = Reference.Scenario("L07_cache_all");
        TensorProxy shortCos, cos, sin, weights, key, value, actFn;
        using (var tracer = _model.Trace())
        {
            using (tracer.Invoke(Prompt[..6]))
            {
                shortCos = _model.Model.Layers[2].SelfAttn.RotaryEmb.Output.Cos.Save();
            }
            using (tracer.Invoke(Prompt))
            {
                var attention = _model.Model.Layers[2].SelfAttn;
                cos = attention.RotaryEmb.Output.Cos.Save();
                sin = attention.RotaryEmb.Output.Sin.Save();
                weights = attention.Output.Weights.Save();
                key = attention.Output.Present[0].Save();
                value = attention.Output.Present[1].Save();
                actFn = _model.Model.Layers[2].Mlp.ActFn.Output.Save();
            }
        }

        everything.Expect("model.layers.2.self_attn.rotary_emb.0", cos.Value.squeeze(0));
        everything.Expect("model.layers.2.self_attn.rotary_emb.1", sin.Value.squeeze(0));
        everything.ExpectPart("model.layers.2.self_attn.rotary_emb.0", table => table.narrow(0, 0, 6), shortCos.Value.squeeze(0).narrow(0, 4, 6));
        everything.Expect("model.layers.2.self_attn.1", weights.Value);
        everything.Expect("model.layers.2.self_attn.present.key", key.Value);
        everything.Expect("model.layers.2.self_attn.present.value", value.Value);
        everything.Expect("model.layers.2.mlp.act_fn", actFn.Value);
    }

    [Fact]
    public void The_lambda_forms_run_the_same_examples()
    {
        TensorProxy? traced = null, generated = null;
        _model.Trace(tracer => tracer.Invoke(Prompt, () => traced = _model.Model.Layers[^1].Output[0].Save()));
        _model.Generate(generator => generator.Invoke(Prompt, () => generated = _model.Model.Layers[^1].Output[0].Save()), maxNewTokens: 2);

        _forward.Expect("hidden", traced!.Value);
        _generation.Expect("hidden_step0", generated!.Value);
    }

    private Tensor Norm(Tensor hidden) => Call("model.norm", hidden);

    private Tensor Head(Tensor hidden) => Call("lm_head", hidden);

    private Tensor Call(string path, Tensor input)
    {
        using var noGrad = no_grad();
        var module = (nn.Module<Tensor, Tensor>)_model.Module.named_modules().Single(entry => entry.name == path).module;
        return module.call(input);
    }
}
