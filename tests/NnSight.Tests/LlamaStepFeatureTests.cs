using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary>Stop, Skip, edits and sessions on the tiny Llama (the GPT-2 cases are in their own test classes).</summary>
public sealed class LlamaStepFeatureTests(TinyLlamaFixture fixture) : IClassFixture<TinyLlamaFixture>
{
    private static readonly long[] Prompt = ReferenceIndex.Llama.Prompts["p10"].Ids;
    private static readonly long[] Other = [.. Prompt[..^1], 7];
    private readonly LanguageModel _model = fixture.Plain;

    private Envoy Layer(int index) => _model.Envoy("model.layers")[index];

    private Tensor Logits(LanguageModel model, long[] ids, Action? intervention = null)
    {
        var tracer = model.Trace();
        using (tracer)
        using (tracer.Invoke(ids))
        {
            intervention?.Invoke();
        }
        return tracer.Output;
    }

    [Fact]
    public void Stop_gives_the_full_runs_values_and_skip_equals_setting_the_output()
    {
        TensorProxy stopped, full;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Prompt))
        {
            stopped = Layer(1).Output[0].Save();
            tracer.Stop();
        }
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Prompt))
        {
            full = Layer(1).Output[0].Save();
        }
        TensorAssert.Close(full.Value, stopped.Value, 0, 0, "stopped vs full");

        var skipped = Logits(_model, Prompt, () => Layer(2).Skip(Layer(1).Output));
        var set = Logits(_model, Prompt, () => Layer(2).Output = Layer(1).Output);
        TensorAssert.Close(set, skipped, 0, 0, "Skip vs setting the output");
        HookAssert.NoHooks(_model.Module);
    }

    [Fact]
    public void An_edited_view_equals_the_manual_intervention_and_the_original_still_equals_the_reference()
    {
        void Ablate() => Layer(1).Child("mlp").Output = Layer(1).Child("mlp").Output * 0;
        using var ablated = _model.Edit(Ablate);

        TensorAssert.Close(Logits(_model, Prompt, Ablate), Logits(ablated, Prompt), 0, 0, "edited view vs manual intervention");
        ReferenceIndex.Llama.Scenario("L01_trace_save").Expect("logits", Logits(_model, Prompt));
    }

    [Fact]
    public void A_sessions_cross_trace_patch_equals_the_batched_patch()
    {
        TensorProxy fromSession, batched;
        using (_model.Session())
        {
            TensorProxy source;
            using (var tracer = _model.Trace())
            using (tracer.Invoke(Prompt))
            {
                source = Layer(2).Output[0];
            }
            using (var tracer = _model.Trace())
            using (tracer.Invoke(Other))
            {
                Layer(2).Output[0][.., 9] = source[.., 9];
                fromSession = _model.Envoy("lm_head").Output[.., ^1].Save();
            }
        }
        using (var tracer = _model.Trace())
        {
            TensorProxy source;
            using (tracer.Invoke(Prompt))
            {
                source = Layer(2).Output[0];
            }
            using (tracer.Invoke(Other))
            {
                Layer(2).Output[0][.., 9] = source[.., 9];
                batched = _model.Envoy("lm_head").Output[.., ^1].Save();
            }
        }

        TensorAssert.Close(batched.Value, fromSession.Value, 1e-5, 1e-6, "session vs one batched trace");
        Assert.False(Logits(_model, Other)[.., ^1].allclose(fromSession.Value), "the patch changed nothing");
    }
}
