using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.EndToEnd.Tests;

/// <summary>The gradient examples (10 and 11 of the project's API) through the typed tree, on the tiny GPT-2.</summary>
public sealed class TypedGradientExampleTests : IDisposable
{
    private const string Eiffel = "The Eiffel Tower is in the city of";
    private const long Paris = 6342;
    private readonly TinyGpt2 _model = TinyGpt2.FromPretrained(RepositoryPaths.TinyGpt2, device: "cpu");

    public void Dispose() => _model.Dispose();

    [Fact]
    public void Example10_gradients_read_and_set_through_the_typed_tree_equal_the_untyped_ones()
    {
        TensorProxy typed, untyped;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            typed = _model.Transformer.H[1].Output.HiddenStates.Grad.Save();
            _model.Transformer.H[3].Output[0].Grad = _model.Transformer.H[3].Output[0].Grad * 0.5;
            _model.LmHead.Output[0, ^1, Paris].Backward();
        }
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            untyped = _model.Envoy("transformer.h.1").Output[0].Grad.Save();
            _model.Envoy("transformer.h.3").Output[0].Grad = _model.Envoy("transformer.h.3").Output[0].Grad * 0.5;
            _model.Envoy("lm_head").Output[0, ^1, Paris].Backward();
        }
        _model.ZeroGrad();

        Assert.Equal([1L, 10L, 64L], typed.Value.shape);
        TensorAssert.Close(untyped.Value, typed.Value, 0, 0, "typed vs untyped");
    }

    [Fact]
    public void Example11_a_steering_vector_learns_through_the_typed_tree()
    {
        using var steer = nn.Parameter(zeros(_model.Config.NEmbd));
        using var optimizer = optim.Adam([steer], lr: 0.01);
        var losses = new List<float>();
        for (var step = 0; step < 20; step++)
        {
            TensorProxy loss;
            using (var tracer = _model.Trace())
            using (tracer.Invoke(Eiffel))
            {
                _model.Transformer.H[2].Output[0] = _model.Transformer.H[2].Output[0] + steer;
                loss = (_model.LmHead.Output[0, ^1].log_softmax(-1)[Paris] * -1).Save();
                loss.Backward();
            }
            losses.Add(loss.Value.item<float>());
            optimizer.step();
            optimizer.zero_grad();
        }
        _model.ZeroGrad();

        Assert.True(losses[^1] < losses[0] - 0.1, $"loss {losses[0]} → {losses[^1]}");
    }
}
