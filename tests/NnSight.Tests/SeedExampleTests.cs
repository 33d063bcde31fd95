using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary>The examples of DESIGN §1 through the untyped API, checked against HuggingFace references.</summary>
public sealed class SeedExampleTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private static readonly ReferenceIndex Reference = ReferenceIndex.Gpt2;
    private readonly LanguageModel _model = fixture.Model;
    private static string Eiffel => Reference.Prompts["eiffel"].Text;

    private Envoy LastBlock => _model.Envoy("transformer.h")[^1];

    [Fact]
    public void Example1_saving_a_hidden_state_during_generation_equals_huggingface()
    {
        var scenario = Reference.Scenario("04_generate");
        TensorProxy hidden;
        var generator = _model.Generate(maxNewTokens: 1);
        using (generator)
        {
            using (generator.Invoke(Eiffel))
            {
                hidden = LastBlock.Output[0].Save();
            }
        }

        using var tokens = generator.Output;
        using var h = hidden.Value;
        scenario.Expect("hidden_step0", h);
        using var expected = scenario.Load("sequences");
        TensorAssert.Equal(expected.narrow(1, 0, 11), tokens, "prompt + 1 token");
    }

    [Fact]
    public void Example2_operations_on_proxies_equal_huggingface()
    {
        var scenario = Reference.Scenario("02_sum_edit");
        TensorProxy pre, sum, edited;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            pre = LastBlock.Output[0].Save();
            sum = pre.sum().Save();
            edited = (pre + sum).Save();
        }

        scenario.Expect("hidden", pre.Value);
        scenario.Expect("hs_sum", sum.Value.reshape(1));
        scenario.Expect("hs_edited", edited.Value);
    }
}
