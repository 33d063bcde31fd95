using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary>Shapes are known while recording, from the model's rules and each op's own definition on meta tensors.</summary>
public sealed class ShapeTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private readonly LanguageModel _model = fixture.Model;
    private static string Eiffel => ReferenceIndex.Gpt2.Prompts["eiffel"].Text;

    [Fact]
    public void Module_values_have_their_shapes_before_the_run()
    {
        using var tracer = _model.Trace();
        using var invoker = tracer.Invoke(Eiffel);
        var block = _model.Envoy("transformer.h")[^1];

        Assert.Equal([1L, 10L, 64L], block.Output[0].shape);
        Assert.Equal([1L, 4L, 10L, 16L], block.Output[1][0].shape);
        Assert.Equal([1L, 4L, 10L, 10L], _model.Envoy("transformer.h.0.attn.attn_dropout").Output.shape);
        Assert.Equal([1L, 10L, 256L], _model.Envoy("transformer.h.0.mlp.act").Output.shape);
        Assert.Equal([1L, 10L], _model.Envoy("transformer.wte").Input.shape);
        Assert.Equal(ScalarType.Int64, _model.Envoy("transformer.wte").Input.dtype);
        Assert.Equal([1L, 10L, 50257L], _model.Output[0].shape);
        Assert.Equal(ScalarType.Float32, block.Output[0].dtype);
    }

    [Fact]
    public void Op_results_have_their_shapes_before_the_run()
    {
        using var tracer = _model.Trace();
        using var invoker = tracer.Invoke(Eiffel);
        var hidden = _model.Envoy("transformer.h")[^1].Output[0];

        Assert.Empty(hidden.sum().shape);
        Assert.Equal([1L, 10L], hidden.softmax(2).argmax(2).shape);
        Assert.Equal([1L, 64L], hidden[.., ^1].shape);
        Assert.Equal([1L, 3L, 64L], hidden[.., 2..5].shape);
        Assert.Equal([10L, 64L], hidden.Token[..].squeeze(0).shape);
        Assert.Equal([1L, 64L], hidden.Token[0].shape);
        Assert.Equal([64L, 10L, 1L], hidden.permute(2, 1, 0).shape);
        Assert.Equal([1L, 10L, 5L], hidden.topk(5)[1].shape);
        Assert.Equal([1L, 10L, 50257L], _model.Envoy("lm_head").Call(hidden).shape);
        Assert.Equal([1L, 10L, 10L], hidden.matmul(hidden.transpose(1, 2)).shape);
    }

    [Fact]
    public void Generation_steps_have_one_new_position_and_a_growing_cache()
    {
        using var generator = _model.Generate(maxNewTokens: 3);
        using var invoker = generator.Invoke(Eiffel);
        invoker.Next();
        invoker.Next();
        var block = _model.Envoy("transformer.h")[0];

        Assert.Equal([1L, 1L, 64L], block.Output[0].shape);
        Assert.Equal([1L, 4L, 12L, 16L], block.Output[1][1].shape);
        Assert.Equal([1L, 4L, 1L, 12L], _model.Envoy("transformer.h.0.attn.attn_dropout").Output.shape);
    }

    [Fact]
    public void A_later_longer_invocation_grows_the_padded_length()
    {
        using var tracer = _model.Trace();
        TensorProxy first;
        using (tracer.Invoke(Eiffel))
        {
            first = _model.Envoy("transformer.h")[0].Output[0];
            Assert.Equal([1L, 10L, 64L], first.shape);
        }
        using (tracer.Invoke(ReferenceIndex.Gpt2.Prompts["ioi_clean"].Text))
        {
            Assert.Equal([1L, 14L, 64L], _model.Envoy("transformer.h")[0].Output[0].shape);
        }
    }

    [Fact]
    public void Shapes_that_do_not_fit_an_op_are_reported_while_recording()
    {
        var tracer = _model.Trace();
        ShapeMismatchException error;
        using (tracer.Invoke(Eiffel))
        {
            var hidden = _model.Envoy("transformer.h")[0].Output[0];
            error = Assert.Throws<ShapeMismatchException>(() => hidden.matmul(hidden).shape);
        }

        Assert.Contains("matmul cannot multiply shapes [1, 10, 64] and [1, 10, 64]", error.Message, StringComparison.Ordinal);
        Assert.Throws<InterventionException>(tracer.Dispose);
    }

    [Fact]
    public void Local_code_and_tuples_have_no_shape()
    {
        using var tracer = _model.Trace();
        using var invoker = tracer.Invoke(Eiffel);
        var block = _model.Envoy("transformer.h")[0];

        Assert.Throws<ShapeUnknownException>(() => block.Output[0].Apply(tensor => tensor).shape);
        var error = Assert.Throws<ShapeUnknownException>(() => block.Output.shape);
        Assert.Contains("is a tuple ([1, 10, 64], ([1, 4, 10, 16], [1, 4, 10, 16]))", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_proxy_prints_what_it_stands_for()
    {
        using var tracer = _model.Trace();
        using var invoker = tracer.Invoke(Eiffel);

        Assert.Equal("TensorProxy(transformer.h.3.output[0], shape [1, 10, 64])", _model.Envoy("transformer.h")[^1].Output[0].ToString());
    }
}
