using NnSight.Models;
using NnSight.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary>
/// <c>.Grad</c> and <c>Backward()</c> on the tiny GPT-2 and Llama, against plain TorchSharp autograd written by hand
/// (hooks and <c>retain_grad</c>), central finite differences in float64, and the semantics of setting gradients.
/// </summary>
public sealed class GradientTests(TinyGpt2Fixture gpt2, TinyLlamaFixture llama)
    : IClassFixture<TinyGpt2Fixture>, IClassFixture<TinyLlamaFixture>, IDisposable
{
    private const long Target = 42;
    private const double Rtol = 1e-4, Atol = 1e-6;

    public static TheoryData<string, string[]> Models => new()
    {
        { "gpt2", ["transformer.wte", "transformer.h.1", "transformer.h.3"] },
        { "llama", ["model.embed_tokens", "model.layers.1", "model.layers.3"] },
    };

    private static long[] Prompt(string architecture) => architecture == "gpt2"
        ? ReferenceIndex.Gpt2.Prompts["eiffel"].Ids
        : ReferenceIndex.Llama.Prompts["p10"].Ids;

    private LanguageModel Model(string architecture) => architecture == "gpt2" ? gpt2.Model : llama.Plain;

    private static string Head(string architecture) => "lm_head";

    public void Dispose()
    {
        gpt2.Model.ZeroGrad();
        llama.Plain.ZeroGrad();
    }

    /// <summary>A module's hidden states: element 0 of a block's tuple output, the output itself otherwise.</summary>
    private static TensorProxy Hidden(LanguageModel model, string path) =>
        path.Split('.').Length == 3 ? model.Envoy(path).Output[0] : model.Envoy(path).Output;

    [Theory]
    [MemberData(nameof(Models))]
    public void Grad_equals_plain_autograd_at_the_embedding_a_middle_and_the_last_layer(string architecture, string[] paths)
    {
        var model = Model(architecture);
        var ids = Prompt(architecture);
        var expected = HandGradients.Of(model, ids, logits => logits[0, -1, Target], paths);

        var grads = new Dictionary<string, TensorProxy>();
        using (var tracer = model.Trace())
        using (tracer.Invoke(ids))
        {
            foreach (var path in paths)
            {
                grads[path] = Hidden(model, path).Grad.Save();
            }
            model.Envoy(Head(architecture)).Output[0, ^1, Target].Backward();
        }

        foreach (var path in paths)
        {
            TensorAssert.Close(expected[path], grads[path].Value, Rtol, Atol, $"{architecture} {path}");
        }
    }

    /// <remarks>
    /// Llama's RMSNorm computes in float32 whatever the model's dtype (as HuggingFace's does), so its float64 loss is exact
    /// to about 1e-7 only: a larger step and tolerance keep the finite difference above that noise.
    /// </remarks>
    [Theory]
    [InlineData("gpt2", "transformer.h.1", 1e-6, 1e-5)]
    [InlineData("llama", "model.layers.1", 1e-3, 1e-3)]
    public void Grad_agrees_with_central_finite_differences_in_float64(string architecture, string path, double step, double tolerance)
    {
        using var model = LanguageModel.FromPretrained(architecture == "gpt2" ? RepositoryPaths.TinyGpt2 : RepositoryPaths.TinyLlama, dtype: ScalarType.Float64);
        var ids = Prompt(architecture);
        TensorProxy grad;
        using (var tracer = model.Trace())
        using (tracer.Invoke(ids))
        {
            grad = model.Envoy(path).Output[0].Grad.Save();
            model.Envoy("lm_head").Output[0, ^1, Target].Backward();
        }

        foreach (var (position, feature) in new[] { (0L, 0L), (4L, 17L), ((long)ids.Length - 1, 63L) })
        {
            double Loss(double shift)
            {
                using var delta = zeros(1, ids.Length, 64, dtype: ScalarType.Float64);
                delta[0, position, feature] = shift;
                TensorProxy logit;
                using (var tracer = model.Trace())
                using (tracer.Invoke(ids))
                {
                    model.Envoy(path).Output[0] = model.Envoy(path).Output[0] + delta;
                    logit = model.Envoy("lm_head").Output[0, ^1, Target].Save();
                }
                return logit.Value.item<double>();
            }
            var numeric = (Loss(step) - Loss(-step)) / (2 * step);
            var analytic = grad.Value[0, position, feature].item<double>();
            Assert.True(Math.Abs(numeric - analytic) <= tolerance * (0.1 + Math.Abs(analytic)),
                $"{architecture} {path}[0, {position}, {feature}]: .Grad {analytic:R}, finite difference {numeric:R}");
        }
    }

    [Fact]
    public void Setting_a_gradient_changes_what_flows_further_back()
    {
        var model = gpt2.Model;
        var ids = Prompt("gpt2");
        using var hand = new HandGradients(model, ids, "transformer.h.1", "transformer.h.3");
        var loss = hand.Logits[0, -1, Target];
        var lastGradient = autograd.grad([loss], [hand["transformer.h.3"]], retain_graph: true)[0];
        lastGradient[.., 2] = 0;
        using var expected = autograd.grad([hand["transformer.h.3"]], [hand["transformer.h.1"]], [lastGradient])[0];

        TensorProxy scaled, zeroed;
        using (var tracer = model.Trace())
        using (tracer.Invoke(ids))
        {
            var last = model.Envoy("transformer.h.3").Output[0];
            last.Grad = last.Grad * 0.5;
            scaled = model.Envoy("transformer.h.1").Output[0].Grad.Save();
            model.Envoy("lm_head").Output[0, ^1, Target].Backward();
        }
        using (var tracer = model.Trace())
        using (tracer.Invoke(ids))
        {
            model.Envoy("transformer.h.3").Output[0][.., 2].Grad = 0;
            zeroed = model.Envoy("transformer.h.1").Output[0].Grad.Save();
            model.Envoy("lm_head").Output[0, ^1, Target].Backward();
        }

        var unscaled = HandGradients.Of(model, ids, logits => logits[0, -1, Target], "transformer.h.1")["transformer.h.1"];
        TensorAssert.Close(unscaled * 0.5, scaled.Value, Rtol, Atol, "h.3's gradient halved halves h.1's");
        TensorAssert.Close(expected, zeroed.Value, Rtol, Atol, "h.3's gradient at position 2 set to 0");
    }

    [Fact]
    public void Each_invocation_of_a_left_padded_batch_gets_the_gradient_it_gets_alone()
    {
        var model = gpt2.Model;
        var shortIds = ReferenceIndex.Gpt2.Prompts["eiffel"].Ids;
        var longIds = ReferenceIndex.Gpt2.Prompts["ioi_clean"].Ids;
        Tensor Alone(long[] ids)
        {
            TensorProxy grad;
            using (var tracer = model.Trace())
            using (tracer.Invoke(ids))
            {
                grad = model.Envoy("transformer.h.1").Output[0].Grad.Save();
                model.Envoy("lm_head").Output[0, ^1, Target].Backward();
            }
            return grad.Value;
        }

        TensorProxy shortGrad, longGrad;
        using (var tracer = model.Trace())
        {
            using (tracer.Invoke(longIds))
            {
                longGrad = model.Envoy("transformer.h.1").Output[0].Grad.Save();
                model.Envoy("lm_head").Output[0, ^1, Target].Backward();
            }
            using (tracer.Invoke(shortIds))
            {
                shortGrad = model.Envoy("transformer.h.1").Output[0].Token[..].Grad.Save();
                model.Envoy("lm_head").Output[0, ^1, Target].Backward();
            }
        }

        Assert.Equal([1L, shortIds.Length, 64L], shortGrad.Value.shape);
        TensorAssert.Close(Alone(longIds), longGrad.Value, 1e-4, 1e-6, "the unpadded invocation");
        TensorAssert.Close(Alone(shortIds), shortGrad.Value, 1e-4, 1e-6, "the padded invocation at its real positions");
    }

    [Fact]
    public void A_backward_in_generation_gives_the_gradients_of_its_step()
    {
        var model = gpt2.Model;
        var ids = Prompt("gpt2");
        TensorProxy traced, generated;
        using (var tracer = model.Trace())
        using (tracer.Invoke(ids))
        {
            traced = model.Envoy("transformer.h.1").Output[0].Grad.Save();
            model.Envoy("lm_head").Output[0, ^1, Target].Backward();
        }
        using (var generator = model.Generate(maxNewTokens: 2))
        using (generator.Invoke(ids))
        {
            generated = model.Envoy("transformer.h.1").Output[0].Grad.Save();
            model.Envoy("lm_head").Output[0, ^1, Target].Backward();
        }

        TensorAssert.Close(traced.Value, generated.Value, Rtol, Atol, "step 0 of a generation");
    }

    [Fact]
    public void A_steering_vector_trained_through_an_intervention_lowers_its_loss()
    {
        var model = gpt2.Model;
        var ids = Prompt("gpt2");
        using var steer = nn.Parameter(zeros(64));
        using var optimizer = optim.Adam([steer], lr: 0.01);
        var losses = new List<double>();
        for (var step = 0; step < 20; step++)
        {
            TensorProxy loss;
            using (var tracer = model.Trace())
            using (tracer.Invoke(ids))
            {
                model.Envoy("transformer.h.2").Output[0] = model.Envoy("transformer.h.2").Output[0] + steer;
                loss = (model.Envoy("lm_head").Output[0, ^1].log_softmax(-1)[Target] * -1).Save();
                loss.Backward();
            }
            losses.Add(loss.Value.item<float>());
            Assert.NotNull(steer.grad);
            optimizer.step();
            optimizer.zero_grad();
        }
        model.ZeroGrad();

        Assert.True(losses[^1] < losses[0] - 0.1, $"loss {losses[0]} → {losses[^1]}");
        Assert.True(losses.Zip(losses.Skip(1)).All(pair => pair.Second < pair.First), string.Join(", ", losses));
    }

    [Fact]
    public void Parameters_accumulate_their_grad_over_backward_traces_until_cleared()
    {
        var model = gpt2.Model;
        var ids = Prompt("gpt2");
        var weight = model.Module.get_parameter("transformer.ln_f.weight")!;
        model.ZeroGrad();
        Tensor Once()
        {
            using (var tracer = model.Trace())
            using (tracer.Invoke(ids))
            {
                model.Envoy("lm_head").Output[0, ^1, Target].Backward();
            }
            return weight.grad!.clone();
        }

        using var first = Once();
        using var twice = Once();
        model.ZeroGrad();

        TensorAssert.Close(first * 2, twice, 1e-6, 1e-7, "accumulated over two traces");
        Assert.Null(weight.grad);
        Assert.True(weight.requires_grad);
    }

    [Fact]
    public void A_backward_trace_leaves_only_the_saved_values_and_the_output_alive()
    {
        var model = gpt2.Model;
        var ids = Prompt("gpt2");
        using var bias = ones(64);
        var statistics = DisposeScopeManager.Statistics;
        var before = statistics.ThreadTotalLiveCount;
        Tensor output;
        TensorProxy[] saved;
        using (var tracer = model.Trace())
        {
            using (tracer.Invoke(ids))
            {
                var hidden = model.Envoy("transformer.h.1").Output[0];
                hidden.Grad = hidden.Grad * 2 + bias;
                saved = [hidden.Grad.Save(), model.Envoy("transformer.h.2").Output[0].Grad.sum().Save(), (model.Envoy("transformer.h.3").Output[0] + bias).Save()];
                model.Envoy("lm_head").Output[0, ^1].log_softmax(-1)[Target].Backward();
            }
            tracer.Dispose();
            output = tracer.Output;
        }
        model.ZeroGrad();

        Assert.False(output.requires_grad);
        Assert.Equal(before + saved.Length + 1, statistics.ThreadTotalLiveCount);
        foreach (var proxy in saved)
        {
            proxy.Value.Dispose();
        }
        output.Dispose();
        Assert.Equal(before, statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Gradients_of_inputs_and_of_operation_results_follow_the_chain_rule()
    {
        var model = gpt2.Model;
        TensorProxy output, input, doubled, original;
        using (var tracer = model.Trace())
        using (tracer.Invoke(Prompt("gpt2")))
        {
            output = model.Envoy("transformer.h.1").Output[0].Grad.Save();
            input = model.Envoy("transformer.h.2").Input.Grad.Save();
            var hidden = model.Envoy("transformer.h.2").Output[0];
            var twice = hidden * 2;
            model.Envoy("transformer.h.2").Output[0] = twice;
            doubled = twice.Grad.Save();
            original = hidden.Grad.Save();
            model.Envoy("lm_head").Output[0, ^1, Target].Backward();
        }

        TensorAssert.Close(output.Value, input.Value, 0, 0, "block 2's input is block 1's hidden states");
        TensorAssert.Close(doubled.Value * 2, original.Value, Rtol, Atol, "d/dx of 2x");
    }

    [Fact]
    public void Backward_with_a_gradient_weights_a_non_scalar_loss()
    {
        var model = gpt2.Model;
        var ids = Prompt("gpt2");
        using var oneHot = zeros(50257);
        oneHot[Target] = 1;
        TensorProxy weighted, scalar;
        using (var tracer = model.Trace())
        using (tracer.Invoke(ids))
        {
            weighted = model.Envoy("transformer.h.1").Output[0].Grad.Save();
            model.Envoy("lm_head").Output[0, ^1].Backward(oneHot);
        }
        using (var tracer = model.Trace())
        using (tracer.Invoke(ids))
        {
            scalar = model.Envoy("transformer.h.1").Output[0].Grad.Save();
            model.Envoy("lm_head").Output[0, ^1, Target].Backward();
        }

        TensorAssert.Close(scalar.Value, weighted.Value, Rtol, Atol, "Backward(one-hot) equals Backward() of that logit");
    }
}

