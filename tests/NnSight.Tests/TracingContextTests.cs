using NnSight.Models;
using NnSight.TestSupport;

namespace NnSight.Tests;

/// <summary>When a tracing context runs: inside catch and finally blocks, and never while its own block throws.</summary>
public sealed class TracingContextTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private static readonly ReferenceIndex Reference = ReferenceIndex.Gpt2;
    private static string Eiffel => Reference.Prompts["eiffel"].Text;
    private readonly LanguageModel _model = fixture.Model;

    private TensorProxy SaveLastHidden() => _model.Envoy("transformer.h")[^1].Output[0].Save();

    [Fact]
    public void A_trace_in_a_catch_block_runs()
    {
        TensorProxy? hidden = null;
        try
        {
            throw new InvalidOperationException("the first attempt failed");
        }
        catch (InvalidOperationException)
        {
            using var tracer = _model.Trace();
            using (tracer.Invoke(Eiffel))
            {
                hidden = SaveLastHidden();
            }
        }

        Reference.Scenario("01_trace_save").Expect("hidden", hidden.Value);
    }

    [Fact]
    public void A_trace_in_a_finally_block_during_unwinding_runs()
    {
        TensorProxy? hidden = null;
        void Fallback()
        {
            try
            {
                throw new InvalidOperationException("user code failed");
            }
            finally
            {
                using var tracer = _model.Trace();
                using (tracer.Invoke(Eiffel))
                {
                    hidden = SaveLastHidden();
                }
            }
        }

        Assert.Throws<InvalidOperationException>(Fallback);

        Reference.Scenario("01_trace_save").Expect("hidden", hidden!.Value);
    }

    [Fact]
    public void A_trace_in_a_catch_block_whose_own_block_throws_runs_nothing()
    {
        TensorProxy? hidden = null;
        var applied = false;
        void Retry()
        {
            using var tracer = _model.Trace();
            using var invoker = tracer.Invoke(Eiffel);
            hidden = _model.Envoy("transformer.h")[^1].Output[0].Apply(tensor => { applied = true; return tensor; }).Save();
            throw new ArgumentException("the retry failed too");
        }
        try
        {
            throw new InvalidOperationException("the first attempt failed");
        }
        catch (InvalidOperationException)
        {
            Assert.Throws<ArgumentException>(Retry);
        }

        Assert.False(applied);
        Assert.Throws<ValueNotReadyException>(() => hidden!.Value);
    }

    [Fact]
    public void The_lambda_form_of_invoke_hands_over_the_invoker_for_next()
    {
        var saved = new List<TensorProxy>();
        _model.Generate(generator => generator.Invoke(Eiffel, invoker =>
        {
            saved.Add(SaveLastHidden());
            invoker.Next();
            saved.Add(SaveLastHidden());
        }), maxNewTokens: 2);

        var scenario = Reference.Scenario("04_generate");
        scenario.Expect("hidden_step0", saved[0].Value);
        scenario.Expect("hidden_step1", saved[1].Value);
    }

    [Fact]
    public void Token_ids_as_a_tokenizer_returns_them_are_an_input()
    {
        int[] ids = [.. Reference.Prompts["eiffel"].Ids.Select(id => (int)id)];
        TensorProxy hidden;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(ids))
        {
            hidden = SaveLastHidden();
        }

        Reference.Scenario("01_trace_save").Expect("hidden", hidden.Value);
    }
}
