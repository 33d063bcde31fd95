using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary>Persistent edits: views that apply an intervention to every run, in place edits, clearing.</summary>
public sealed class EditTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private static string Eiffel => ReferenceIndex.Gpt2.Prompts["eiffel"].Text;
    private readonly LanguageModel _model = fixture.Model;

    private Tensor Logits(LanguageModel model, Action? intervention = null)
    {
        var tracer = model.Trace();
        using (tracer)
        using (tracer.Invoke(Eiffel))
        {
            intervention?.Invoke();
        }
        return tracer.Output;
    }

    private void Ablate() => _model.Envoy("transformer.h.1.attn").Output[0] = _model.Envoy("transformer.h.1.attn").Output[0] * 0;

    [Fact]
    public void An_edited_view_equals_the_manual_intervention_and_the_original_is_unchanged()
    {
        using var ablated = _model.Edit(Ablate);

        TensorAssert.Close(Logits(_model, Ablate), Logits(ablated), 0, 0, "edited view vs manual intervention");
        ReferenceIndex.Gpt2.Scenario("01_trace_save").Expect("logits", Logits(_model));
        Assert.Same(_model.Module, ablated.Module);
    }

    [Fact]
    public void Edits_compose_with_each_traces_interventions_and_apply_to_every_invocation_and_step()
    {
        using var ablated = _model.Edit(Ablate);
        void Double() => _model.Envoy("transformer.h.2").Output[0] = _model.Envoy("transformer.h.2").Output[0] * 2;
        var composed = Logits(ablated, () => ablated.Envoy("transformer.h.2").Output[0] = ablated.Envoy("transformer.h.2").Output[0] * 2);
        var manual = Logits(_model, () => { Ablate(); Double(); });
        TensorAssert.Close(manual, composed, 0, 0, "edit then the trace's own intervention");

        var editedGeneration = ablated.Generate(maxNewTokens: 3);
        using (editedGeneration)
        {
            editedGeneration.Invoke(Eiffel).Dispose();
            editedGeneration.Invoke("When John and Mary went to the shops,").Dispose();
        }
        var manualGeneration = _model.Generate(maxNewTokens: 3);
        using (manualGeneration)
        {
            foreach (var prompt in new[] { Eiffel, "When John and Mary went to the shops," })
            {
                using var invoker = manualGeneration.Invoke(prompt);
                using (invoker.All())
                {
                    Ablate();
                }
            }
        }
        TensorAssert.Equal(manualGeneration.Output, editedGeneration.Output, "every invocation, every step");
    }

    [Fact]
    public void An_in_place_edit_applies_until_cleared_and_disposing_a_view_leaves_the_model_usable()
    {
        var view = _model.Edit(Ablate);
        view.Dispose();
        var expected = Logits(_model, Ablate);

        _model.EditInPlace(Ablate);
        try
        {
            TensorAssert.Close(expected, Logits(_model), 0, 0, "in-place edit");
        }
        finally
        {
            _model.ClearEdits();
        }
        ReferenceIndex.Gpt2.Scenario("01_trace_save").Expect("logits", Logits(_model));
    }
}
