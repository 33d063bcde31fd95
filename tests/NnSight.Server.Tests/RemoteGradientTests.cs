using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Server.Tests;

/// <summary>
/// Gradients on the server: reading, setting and Backward() serialize and give the local values bit for bit (the test
/// server runs with this process's thread count), though the server's parameters do not require grad.
/// </summary>
public sealed class RemoteGradientTests(TinyGpt2Fixture fixture, ServerProcess server)
    : IClassFixture<TinyGpt2Fixture>, IClassFixture<ServerProcess>, IDisposable
{
    private static string Eiffel => ReferenceIndex.Gpt2.Prompts["eiffel"].Text;
    private readonly LanguageModel _model = fixture.Model;

    public void Dispose() => _model.ZeroGrad();

    [Fact]
    public void Gradients_read_and_set_remotely_equal_the_local_ones()
    {
        List<Tensor> Run(bool remote)
        {
            TensorProxy first, middle, loss;
            var tracer = remote ? _model.Trace(server.Settings()) : _model.Trace();
            using (tracer)
            using (tracer.Invoke(Eiffel))
            {
                var last = _model.Envoy("transformer.h")[3].Output[0];
                last.Grad = last.Grad * 0.5;
                middle = _model.Envoy("transformer.h")[1].Output[0][.., 2].Grad.Save();
                first = _model.Envoy("transformer.wte").Output.Grad.sum().Save();
                loss = _model.Envoy("lm_head").Output[0, ^1].log_softmax(-1)[42].Save();
                loss.Backward();
            }
            return [first.Value, middle.Value, loss.Value, tracer.Output];
        }

        var local = Run(remote: false);
        var remote = Run(remote: true);

        foreach (var (expected, actual) in local.Zip(remote))
        {
            TensorAssert.Close(expected, actual, 0, 0, "remote vs local");
        }
    }

    [Fact]
    public void A_tensor_that_requires_grad_is_refused_in_a_remote_graph_with_the_reason()
    {
        using var steer = nn.Parameter(zeros(64));
        var tracer = _model.Trace(server.Settings());
        using (tracer.Invoke(Eiffel))
        {
            _model.Envoy("transformer.h")[2].Output[0] = _model.Envoy("transformer.h")[2].Output[0] + steer;
            _model.Envoy("lm_head").Output[0, ^1, 42].Backward();
        }

        var error = Assert.Throws<GraphFormatException>(tracer.Dispose);

        Assert.Contains("uses a tensor that requires grad (a Parameter): a server would compute its gradient on its own copy", error.Message, StringComparison.Ordinal);
    }
}
