using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary>Sessions: traces that run in order as one unit, a later one reading an earlier one's values without Save.</summary>
public sealed class SessionTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private static string Clean => ReferenceIndex.Gpt2.Prompts["ioi_clean"].Text;
    private static string Corrupt => ReferenceIndex.Gpt2.Prompts["ioi_corrupt"].Text;
    private readonly LanguageModel _model = fixture.Model;

    private Envoy Block2(LanguageModel model) => model.Envoy("transformer.h")[2];

    /// <summary>Example 8's patch as one batched trace.</summary>
    private Tensor BatchedPatch(LanguageModel model)
    {
        TensorProxy patched;
        using (var tracer = model.Trace())
        {
            TensorProxy clean;
            using (tracer.Invoke(Clean))
            {
                clean = Block2(model).Output[0];
            }
            using (tracer.Invoke(Corrupt))
            {
                Block2(model).Output[0][.., 13] = clean[.., 13];
                patched = model.Envoy("lm_head").Output[.., ^1].Save();
            }
        }
        return patched.Value;
    }

    /// <summary>The same patch as two traces of a session; also returns the clean proxy, which was never saved.</summary>
    private (Tensor Patched, TensorProxy Clean) SessionPatch(LanguageModel model)
    {
        TensorProxy clean, patched;
        using (model.Session())
        {
            using (var tracer = model.Trace())
            using (tracer.Invoke(Clean))
            {
                clean = Block2(model).Output[0];
            }
            using (var tracer = model.Trace())
            using (tracer.Invoke(Corrupt))
            {
                Block2(model).Output[0][.., 13] = clean[.., 13];
                patched = model.Envoy("lm_head").Output[.., ^1].Save();
            }
        }
        return (patched.Value, clean);
    }

    [Fact]
    public void A_cross_trace_patch_equals_the_batched_patch_of_example_8_and_its_intermediate_is_not_returned()
    {
        var (patched, clean) = SessionPatch(_model);

        TensorAssert.Close(BatchedPatch(_model), patched, 1e-5, 1e-6, "session vs one batched trace");
        var error = Assert.Throws<ValueNotSavedException>(() => clean.Value);
        Assert.Contains("was never saved", error.Message, StringComparison.Ordinal);
        HookAssert.NoHooks(_model.Module);
    }

    [Fact]
    public void A_value_saved_in_one_trace_and_used_in_the_next_is_returned_and_used()
    {
        TensorProxy first, doubled;
        using (_model.Session())
        {
            using (var tracer = _model.Trace())
            using (tracer.Invoke(Clean))
            {
                first = Block2(_model).Output[0].Save();
            }
            using (var tracer = _model.Trace())
            using (tracer.Invoke(Corrupt))
            {
                doubled = (first * 2).Save();
            }
        }

        TensorAssert.Close(first.Value * 2, doubled.Value, 0, 0, "the imported value, doubled");
    }

    [Fact]
    public void Sessions_on_an_edited_view_apply_the_edit_to_every_trace_and_find_the_values_behind_it()
    {
        void Ablate() => _model.Envoy("transformer.h.1.attn").Output[0] = _model.Envoy("transformer.h.1.attn").Output[0] * 0;
        using var ablated = _model.Edit(Ablate);
        var (onView, _) = SessionPatch(ablated);

        TensorProxy clean, patched;
        using (_model.Session())
        {
            using (var tracer = _model.Trace())
            using (tracer.Invoke(Clean))
            {
                Ablate();
                clean = Block2(_model).Output[0];
            }
            using (var tracer = _model.Trace())
            using (tracer.Invoke(Corrupt))
            {
                Ablate();
                Block2(_model).Output[0][.., 13] = clean[.., 13];
                patched = _model.Envoy("lm_head").Output[.., ^1].Save();
            }
        }

        TensorAssert.Close(patched.Value, onView, 0, 0, "edited view vs manual ablation");
    }

    [Fact]
    public void An_exception_in_the_session_runs_nothing_and_leaves_the_model_usable()
    {
        TensorProxy? saved = null;
        void FailingSession()
        {
            using (_model.Session())
            {
                using (var tracer = _model.Trace())
                using (tracer.Invoke(Clean))
                {
                    saved = Block2(_model).Output[0].Save();
                }
                throw new InvalidOperationException("user code failed");
            }
        }

        Assert.Throws<InvalidOperationException>(FailingSession);

        var error = Assert.Throws<ValueNotReadyException>(() => saved!.Value);
        Assert.Contains("the run did not complete", error.Message, StringComparison.Ordinal);
        HookAssert.NoHooks(_model.Module);
        TensorAssert.Close(BatchedPatch(_model), SessionPatch(_model).Patched, 1e-5, 1e-6, "a later session");
    }

    [Fact]
    public void A_later_trace_reads_an_earlier_traces_value_but_cannot_change_it()
    {
        using (_model.Session())
        {
            TensorProxy clean;
            using (var tracer = _model.Trace())
            using (tracer.Invoke(Clean))
            {
                clean = Block2(_model).Output[0];
            }
            using (var tracer = _model.Trace())
            using (tracer.Invoke(Corrupt))
            {
                var error = Assert.Throws<TracingException>(() => clean[.., 0] = 0);
                Assert.Equal("This trace of the session has ended: later traces of the session can read its values, but not change them.", error.Message);
                Block2(_model).Output[0] = clean * 2;
            }
        }
        HookAssert.NoHooks(_model.Module);
    }

    [Fact]
    public void Misuse_is_refused_with_the_reason()
    {
        using (_model.Session())
        {
            var nested = Assert.Throws<TracingException>(() => _model.Session());
            Assert.Equal("This model is already recording a session or a trace; dispose it before starting a session.", nested.Message);
            var remoteTrace = Assert.Throws<TracingException>(() => _model.Trace(new RemoteSettings(new Uri("http://127.0.0.1:1"))));
            Assert.Equal("A trace inside a session runs where the session runs: pass remote: or server: to model.Session(...), not to the trace.",
                remoteTrace.Message);
        }

        TensorProxy outside;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Clean))
        {
            outside = Block2(_model).Output[0].Save();
        }
        var session = _model.Session();
        var inner = _model.Trace();
        using (inner.Invoke(Corrupt))
        {
            var foreign = Assert.Throws<TracingException>(() => Block2(_model).Output[0] = outside);
            Assert.Equal("A proxy from another tracing context cannot be used in this one.", foreign.Message);
        }
        var open = Assert.Throws<TracingException>(session.Dispose);
        Assert.Equal("The session was disposed while one of its traces was still recording; dispose the trace first.", open.Message);
        inner.Dispose();
        HookAssert.NoHooks(_model.Module);
        ReferenceIndex.Gpt2.Scenario("01_trace_save").Expect("logits", Logits());
    }

    private Tensor Logits()
    {
        var tracer = _model.Trace();
        using (tracer)
        using (tracer.Invoke(ReferenceIndex.Gpt2.Prompts["eiffel"].Text))
        {
        }
        return tracer.Output;
    }
}
