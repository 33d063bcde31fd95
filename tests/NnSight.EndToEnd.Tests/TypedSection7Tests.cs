using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.EndToEnd.Tests;

/// <summary>
/// The project's examples 12–16 (every step, cache, stop and skip, edits, sessions) through the typed tree: the numbers
/// equal the untyped API's and, where a HuggingFace reference exists, the reference.
/// </summary>
public sealed class TypedSection7Tests : IDisposable
{
    private const string Eiffel = "The Eiffel Tower is in the city of";
    private const string Clean = "When John and Mary went to the shops, John gave the bag to";
    private const string Corrupt = "When John and Mary went to the shops, Mary gave the bag to";
    private readonly TinyGpt2 _model = TinyGpt2.FromPretrained(RepositoryPaths.TinyGpt2, device: "cpu");

    private Envoy Untyped(string path) => _model.Envoy(path);

    public void Dispose() => _model.Dispose();

    [Fact]
    public void Example12_steering_at_every_step_keeps_one_value_per_step()
    {
        using var steer = full(_model.Config.NEmbd, 0.5f);
        TensorProxy typed, untyped;
        var first = _model.Generate(maxNewTokens: 5);
        using (first)
        using (var invoker = first.Invoke(Eiffel))
        using (invoker.All())
        {
            _model.Transformer.H[2].Output[0] = _model.Transformer.H[2].Output[0] + steer;
            typed = _model.Transformer.H[^1].Output[0].Save();
        }
        var second = _model.Generate(maxNewTokens: 5);
        using (second)
        using (var invoker = second.Invoke(Eiffel))
        using (invoker.All())
        {
            Untyped("transformer.h.2").Output[0] = Untyped("transformer.h.2").Output[0] + steer;
            untyped = Untyped("transformer.h.3").Output[0].Save();
        }

        Assert.Equal([[1L, 10L, 64L], [1L, 1L, 64L], [1L, 1L, 64L], [1L, 1L, 64L], [1L, 1L, 64L]], typed.Values.Select(value => value.shape));
        foreach (var (expected, actual) in untyped.Values.Zip(typed.Values))
        {
            Same(expected, actual);
        }
        Same(second.Output, first.Output);
    }

    [Fact]
    public void Example13_the_cache_is_read_through_the_typed_tree_and_equals_huggingface()
    {
        ActivationCache cache;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            cache = tracer.Cache(_model.Transformer.H);
        }

        using (cache)
        {
            Tensor third = cache[_model.Transformer.H[3]].Output[0];
            ReferenceIndex.Gpt2.Scenario("07_cache_all").Expect("transformer.h.3.0", third);
            ReferenceIndex.Gpt2.Scenario("07_cache_all").Expect("transformer.h.1.mlp", cache[_model.Transformer.H[1].Mlp].Output);
            Assert.DoesNotContain("lm_head", cache.Paths);
        }
    }

    [Fact]
    public void Example14_stop_and_skip_through_the_typed_tree()
    {
        TensorProxy first, skippedTyped, skippedUntyped;
        var stopped = _model.Trace();
        using (stopped)
        using (stopped.Invoke(Eiffel))
        {
            first = _model.Transformer.H[0].Output[0].Save();
            stopped.Stop();
        }
        ReferenceIndex.Gpt2.Scenario("07_cache_all").Expect("transformer.h.0.0", first.Value);

        var typed = _model.Trace();
        using (typed)
        using (typed.Invoke(Eiffel))
        {
            _model.Transformer.H[1].Skip(_model.Transformer.H[0].Output);
            skippedTyped = _model.Transformer.H[1].Output[0].Save();
        }
        var untyped = _model.Trace();
        using (untyped)
        using (untyped.Invoke(Eiffel))
        {
            Untyped("transformer.h.1").Skip(Untyped("transformer.h.0").Output);
            skippedUntyped = Untyped("transformer.h.1").Output[0].Save();
        }

        Same(first.Value, skippedTyped.Value);
        Same(skippedUntyped.Value, skippedTyped.Value);
        Same(untyped.Output, typed.Output);
    }

    [Fact]
    public void Example15_an_edited_view_is_typed_and_leaves_the_model_unchanged()
    {
        using TinyGpt2 ablated = _model.Edit(() => _model.Transformer.H[1].Attn.Output[0] = _model.Transformer.H[1].Attn.Output[0] * 0);

        Tensor Logits(TinyGpt2 model, Action? intervention = null)
        {
            var tracer = model.Trace();
            using (tracer)
            using (tracer.Invoke(Eiffel))
            {
                intervention?.Invoke();
            }
            return tracer.Output;
        }

        Same(Logits(_model, () => Untyped("transformer.h.1.attn").Output[0] = Untyped("transformer.h.1.attn").Output[0] * 0), Logits(ablated));
        Assert.Same(_model.Transformer.H[1].Module, ablated.Transformer.H[1].Module);
        ReferenceIndex.Gpt2.Scenario("01_trace_save").Expect("logits", Logits(_model));
    }

    [Fact]
    public void Example16_a_session_feeds_one_trace_into_the_next_as_one_batched_trace_does()
    {
        TensorProxy clean, fromSession;
        using (_model.Session())
        {
            using (var tracer = _model.Trace())
            using (tracer.Invoke(Clean))
            {
                clean = _model.Transformer.H[2].Output[0];
            }
            using (var tracer = _model.Trace())
            using (tracer.Invoke(Corrupt))
            {
                _model.Transformer.H[2].Output[0] = clean;
                fromSession = _model.LmHead.Output.Save();
            }
        }
        TensorProxy batched;
        using (var tracer = _model.Trace())
        {
            TensorProxy cleanRow;
            using (tracer.Invoke(Clean))
            {
                cleanRow = Untyped("transformer.h.2").Output[0];
            }
            using (tracer.Invoke(Corrupt))
            {
                Untyped("transformer.h.2").Output[0] = cleanRow;
                batched = Untyped("lm_head").Output.Save();
            }
        }

        TensorAssert.Close(batched.Value, fromSession.Value, 1e-5, 1e-6, "session vs one batched trace");
    }

    private static void Same(Tensor expected, Tensor actual) => TensorAssert.Close(expected, actual, 0, 0, "typed vs untyped");
}
