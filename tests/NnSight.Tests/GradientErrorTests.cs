using System.Runtime.CompilerServices;
using NnSight.Models;
using NnSight.TestSupport;

namespace NnSight.Tests;

/// <summary>Gradient mistakes: each a specific exception naming the value and the line, before anything runs where the graph shows it.</summary>
public sealed class GradientErrorTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>, IDisposable
{
    private static string Eiffel => ReferenceIndex.Gpt2.Prompts["eiffel"].Text;
    private readonly LanguageModel _model = fixture.Model;

    private Envoy Block(int index) => _model.Envoy("transformer.h")[index];

    public void Dispose() => _model.ZeroGrad();

    [Fact]
    public void Backward_on_a_non_scalar_without_a_gradient_is_refused_where_it_is_written()
    {
        using var tracer = _model.Trace();
        using var invoker = tracer.Invoke(Eiffel);
        var logits = _model.Envoy("lm_head").Output;

        var error = Assert.Throws<GradientException>(() => logits.Backward()); var line = Line();

        Assert.StartsWith($"{nameof(GradientErrorTests)}.cs:{line}: Backward() needs a scalar loss, and lm_head.output has shape [1, 10, 50257]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_grad_in_a_trace_without_backward_is_refused_before_anything_runs()
    {
        var ran = false;
        var line = 0;
        var tracer = _model.Trace();
        using (tracer.Invoke(Eiffel))
        {
            Block(1).Output[0].Apply(value => { ran = true; return value; }).Save();
            Block(1).Output[0].Grad.Save(); line = Line();
        }

        var error = Assert.Throws<GradientException>(tracer.Dispose);

        Assert.False(ran);
        Assert.Equal($"{nameof(GradientErrorTests)}.cs:{line}: transformer.h.1.output[0].Grad is read, but this trace never calls Backward(); " +
            "gradients exist only in a trace that runs a backward pass (call loss.Backward() on a scalar proxy).", error.Message);
    }

    [Fact]
    public void A_grad_the_backward_pass_never_reaches_is_an_error_and_the_model_is_left_clean()
    {
        var line = 0;
        var tracer = _model.Trace();
        using (tracer.Invoke(Eiffel))
        {
            Block(3).Output[0].Grad.Save(); line = Line();
            Block(1).Output[0].sum().Backward();
        }

        var error = Assert.Throws<GradientException>(tracer.Dispose);

        Assert.Equal($"{nameof(GradientErrorTests)}.cs:{line}: transformer.h.3.output[0].Grad was never reached by the backward pass: " +
            "no Backward() loss of this trace depends on that value.", error.Message);
        HookAssert.NoHooks(_model.Module);
    }

    [Fact]
    public void The_grad_of_a_tuple_is_refused_where_it_is_written()
    {
        using var tracer = _model.Trace();
        using var invoker = tracer.Invoke(Eiffel);
        var block = Block(1);

        var error = Assert.Throws<GradientException>(() => block.Output.Grad); var line = Line();

        Assert.StartsWith($"{nameof(GradientErrorTests)}.cs:{line}: transformer.h.1.output is a tuple; index it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_gradient_set_from_one_the_backward_pass_computes_later_is_out_of_order()
    {
        var tracer = _model.Trace();
        using (tracer.Invoke(Eiffel))
        {
            Block(3).Output[0].Grad = Block(1).Output[0].Grad;
            _model.Envoy("lm_head").Output[0, ^1, 42].Backward();
        }

        var error = Assert.Throws<OutOfOrderException>(tracer.Dispose);

        Assert.Contains("transformer.h.3.output[0].Grad = transformer.h.1.output[0].Grad is set from transformer.h.1.output[0].Grad", error.Message, StringComparison.Ordinal);
        HookAssert.NoHooks(_model.Module);
    }

    [Fact]
    public void A_gradient_of_the_wrong_shape_fails_after_the_backward_pass_naming_the_value()
    {
        var line = 0;
        var tracer = _model.Trace();
        using (tracer.Invoke(Eiffel))
        {
            var hidden = Block(2).Output[0];
            hidden.Grad = hidden.Grad[.., ..3]; line = Line();
            _model.Envoy("lm_head").Output[0, ^1, 42].Backward();
        }

        var error = Assert.Throws<ShapeMismatchException>(tracer.Dispose);

        Assert.StartsWith($"{nameof(GradientErrorTests)}.cs:{line}: transformer.h.2.output[0].Grad has shape [1, 10, 64]", error.Message, StringComparison.Ordinal);
        HookAssert.NoHooks(_model.Module);
    }

    private static int Line([CallerLineNumber] int line = 0) => line;
}
