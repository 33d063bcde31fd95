using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary><c>All()</c> and <c>Steps()</c>: interventions at every (or chosen) generation step, one value per step.</summary>
public sealed class StepTests(TinyGpt2Fixture gpt2, TinyLlamaFixture llama) : IClassFixture<TinyGpt2Fixture>, IClassFixture<TinyLlamaFixture>
{
    private static string Eiffel => ReferenceIndex.Gpt2.Prompts["eiffel"].Text;

    [Fact]
    public void All_saves_one_value_per_step_equal_to_the_reference_and_to_explicit_Next_calls()
    {
        var model = gpt2.Model;
        TensorProxy all;
        using (var generator = model.Generate(maxNewTokens: 3))
        using (var invoker = generator.Invoke(Eiffel))
        using (invoker.All())
        {
            all = model.Envoy("transformer.h.3").Output[0].Save();
        }
        var explicitSteps = new List<TensorProxy>();
        using (var generator = model.Generate(maxNewTokens: 3))
        using (var invoker = generator.Invoke(Eiffel))
        {
            for (var step = 0; step < 3; step++)
            {
                explicitSteps.Add(model.Envoy("transformer.h.3").Output[0].Save());
                if (step < 2)
                {
                    invoker.Next();
                }
            }
        }

        var scenario = ReferenceIndex.Gpt2.Scenario("04_generate");
        Assert.Equal(3, all.Values.Count);
        for (var step = 0; step < 3; step++)
        {
            scenario.Expect($"hidden_step{step}", all.Values[step]);
            TensorAssert.Close(explicitSteps[step].Value, all.Values[step], 0, 0, $"step {step}");
        }
    }

    [Fact]
    public void All_on_the_llama_equals_its_reference_steps()
    {
        var scenario = ReferenceIndex.Llama.Scenario("L04_generate");
        TensorProxy all;
        using (var generator = llama.Plain.Generate(maxNewTokens: 4))
        using (var invoker = generator.Invoke(ReferenceIndex.Llama.Prompts["p10"].Ids))
        using (invoker.All())
        {
            all = llama.Plain.Envoy("model.layers.3").Output[0].Save();
        }

        Assert.Equal(4, all.Values.Count);
        for (var step = 0; step < 4; step++)
        {
            scenario.Expect($"hidden_step{step}", all.Values[step]);
        }
    }

    [Fact]
    public void A_steering_intervention_inside_All_equals_the_same_intervention_written_for_each_step()
    {
        var model = gpt2.Model;
        using var generator0 = new Generator(12);
        using var steer = randn(64, generator: generator0);
        var all = model.Generate(maxNewTokens: 3);
        using (all)
        using (var invoker = all.Invoke(Eiffel))
        using (invoker.All())
        {
            model.Envoy("transformer.h.1").Output[0] = model.Envoy("transformer.h.1").Output[0] + steer;
        }
        var manual = model.Generate(maxNewTokens: 3);
        using (manual)
        using (var invoker = manual.Invoke(Eiffel))
        {
            for (var step = 0; step < 3; step++)
            {
                model.Envoy("transformer.h.1").Output[0] = model.Envoy("transformer.h.1").Output[0] + steer;
                if (step < 2)
                {
                    invoker.Next();
                }
            }
        }
        var plain = model.Generate(maxNewTokens: 3);
        using (plain)
        using (plain.Invoke(Eiffel))
        {
        }

        TensorAssert.Equal(manual.Output, all.Output, "All() vs one intervention per step");
        Assert.False(plain.Output.eq(all.Output).all().item<bool>(), "the steering changes the generation");
    }

    [Fact]
    public void Steps_covers_the_chosen_steps_and_later_accesses_bind_to_the_current_step_again()
    {
        var model = gpt2.Model;
        TensorProxy chosen, after;
        using (var generator = model.Generate(maxNewTokens: 3))
        using (var invoker = generator.Invoke(Eiffel))
        {
            using (invoker.Steps(1..3))
            {
                chosen = model.Envoy("transformer.h.3").Output[0].Save();
            }
            after = model.Envoy("transformer.h.3").Output[0].Save();
        }

        var scenario = ReferenceIndex.Gpt2.Scenario("04_generate");
        Assert.Equal(2, chosen.Values.Count);
        scenario.Expect("hidden_step1", chosen.Values[0]);
        scenario.Expect("hidden_step2", chosen.Values[1]);
        scenario.Expect("hidden_step0", after.Value);
    }

    [Fact]
    public void All_after_Next_starts_at_the_invokers_step_and_Next_goes_on_from_there_after_it()
    {
        var model = gpt2.Model;
        TensorProxy fromStep1, afterScope;
        using (var generator = model.Generate(maxNewTokens: 3))
        using (var invoker = generator.Invoke(Eiffel))
        {
            invoker.Next();
            using (invoker.All())
            {
                fromStep1 = model.Envoy("transformer.h.3").Output[0].Save();
            }
            invoker.Next();
            afterScope = model.Envoy("transformer.h.3").Output[0].Save();
        }

        var scenario = ReferenceIndex.Gpt2.Scenario("04_generate");
        Assert.Equal(2, fromStep1.Values.Count);
        scenario.Expect("hidden_step1", fromStep1.Values[0]);
        scenario.Expect("hidden_step2", fromStep1.Values[1]);
        scenario.Expect("hidden_step2", afterScope.Value);
    }

    [Fact]
    public void A_generation_that_stops_at_eos_has_values_for_the_steps_it_ran()
    {
        var model = gpt2.Model;
        var eos = ReferenceIndex.Gpt2.Scenario("04_generate");
        TensorProxy all;
        var generator = model.Generate(maxNewTokens: 5, new GenerationOptions { EosTokenId = 49085 });
        using (generator)
        using (var invoker = generator.Invoke(Eiffel))
        using (invoker.All())
        {
            all = model.Envoy("transformer.h.3").Output[0].Save();
        }

        Assert.Single(all.Values);
        eos.Expect("hidden_step0", all.Values[0]);
        Assert.Equal(11, generator.Output.shape[1]);
    }

    [Fact]
    public void Value_and_Values_say_which_one_to_read_and_Next_is_refused_inside_All()
    {
        var model = gpt2.Model;
        TensorProxy inside, outside;
        using (var generator = model.Generate(maxNewTokens: 2))
        using (var invoker = generator.Invoke(Eiffel))
        {
            using (invoker.All())
            {
                inside = model.Envoy("lm_head").Output.Save();
                Assert.Throws<TracingException>(invoker.Next);
            }
            outside = model.Envoy("lm_head").Output.Save();
        }

        Assert.Contains("has one value per step: read Values", Assert.Throws<TracingException>(() => inside.Value).Message, StringComparison.Ordinal);
        Assert.Contains("was not recorded inside All() or Steps(): read Value", Assert.Throws<TracingException>(() => outside.Values).Message, StringComparison.Ordinal);
        Assert.Equal(2, inside.Values.Count);
    }
}
