namespace NnSight.Generators.Tests;

/// <summary>
/// Correct programs in the styles people write (loops, helpers, invokers without using, lambdas, several invokers,
/// generation steps under conditions) get no diagnostic from any analyzer.
/// </summary>
public sealed class CorrectProgramsTests
{
    private const string Header = """
        using System;
        using System.Collections.Generic;
        using System.Linq;
        using Models;
        using NnSight;

        var model = ModelGpt2.FromPretrained("models/gpt2");
        string[] prompts = ["The Eiffel Tower is in the city of", "The Colosseum is in the city of"];

        """;

    [Fact]
    public Task Each_invoker_created_in_a_for_loop_calls_Next_within_its_generation() => AssertNoDiagnosticsAsync("""
        var hidden = new List<TensorProxy>();
        using (var gen = model.Generate(maxNewTokens: 3))
        {
            for (int r = 0; r < 2; r++)
                using (var inv = gen.Invoke(prompts[r]))
                {
                    hidden.Add(model.Transformer.H[0].Output[0].Save());
                    inv.Next();
                    hidden.Add(model.Transformer.H[0].Output[0].Save());
                    inv.Next();
                    hidden.Add(model.LmHead.Output.Save());
                }
        }
        Console.WriteLine(hidden[^1].Value.shape[^1]);
        """);

    [Fact]
    public Task Invokers_declared_with_using_in_a_foreach_loop() => AssertNoDiagnosticsAsync("""
        var logits = new Dictionary<string, TensorProxy>();
        using (var gen = model.Generate(maxNewTokens: 2))
        {
            foreach (var prompt in prompts)
            {
                using var invoker = gen.Invoke(prompt);
                invoker.Next();
                logits[prompt] = model.LmHead.Output[.., ^1].Save();
            }
        }
        foreach (var (prompt, proxy) in logits)
        {
            Console.WriteLine($"{prompt}: {proxy.Value.argmax().item<long>()}");
        }
        """);

    [Fact]
    public Task Invoker_held_without_using_and_disposed_explicitly() => AssertNoDiagnosticsAsync("""
        TensorProxy logits;
        using (var tracer = model.Trace())
        {
            var inv = tracer.Invoke(prompts[0]);
            logits = model.LmHead.Output.Save();
            inv.Dispose();
        }
        Console.WriteLine(logits.Value.shape[^1]);
        """);

    [Fact]
    public Task Invoker_disposed_in_a_finally_block() => AssertNoDiagnosticsAsync("""
        TensorProxy hidden;
        using (var tracer = model.Trace())
        {
            Invoker? invoker = null;
            try
            {
                invoker = tracer.Invoke(prompts[0]);
                hidden = model.Transformer.H[^1].Output[0].Save();
            }
            finally
            {
                invoker?.Dispose();
            }
        }
        Console.WriteLine(hidden.Value.shape[0]);
        """);

    [Fact]
    public Task Invoker_variable_reused_for_the_next_prompt() => AssertNoDiagnosticsAsync("""
        TensorProxy first, second;
        using (var gen = model.Generate(maxNewTokens: 2))
        {
            var invoker = gen.Invoke(prompts[0]);
            invoker.Next();
            first = model.LmHead.Output.Save();
            invoker.Dispose();

            invoker = gen.Invoke(prompts[1]);
            try
            {
                invoker.Next();
                second = model.LmHead.Output.Save();
            }
            finally
            {
                invoker.Dispose();
            }
        }
        Console.WriteLine((first.Value - second.Value).abs().max().item<float>());
        """);

    [Fact]
    public Task Static_local_functions_after_top_level_using_declarations_are_helpers() => AssertNoDiagnosticsAsync("""
        using var tracer = model.Trace();
        using (tracer.Invoke(prompts[0]))
        {
            Scale(model, layer: 3, factor: 2);
            SaveLastToken(model);
        }

        static void Scale(ModelGpt2 model, int layer, float factor) =>
            model.Transformer.H[layer].Output[0] = model.Transformer.H[layer].Output[0] * factor;

        static TensorProxy SaveLastToken(ModelGpt2 model) => model.LmHead.Output[.., ^1].Save();
        """);

    [Fact]
    public Task Lambda_and_local_function_defined_in_the_trace_run_inside_each_invoker() => AssertNoDiagnosticsAsync("""
        var saved = new List<TensorProxy>();
        using (var tracer = model.Trace())
        {
            Func<int, TensorProxy> layer = index => model.Transformer.H[index].Output[0].Save();
            void SaveLogits() => saved.Add(model.LmHead.Output.Save());
            foreach (var prompt in prompts)
            {
                using (tracer.Invoke(prompt))
                {
                    saved.Add(layer(5));
                    SaveLogits();
                }
            }
        }
        Console.WriteLine(saved.Count);
        """);

    [Fact]
    public Task Closure_over_a_saved_value_is_called_after_the_trace() => AssertNoDiagnosticsAsync("""
        Func<float> topLogit;
        using (var tracer = model.Trace())
        {
            TensorProxy logits;
            using (tracer.Invoke(prompts[0]))
            {
                logits = model.LmHead.Output[.., ^1].Save();
            }
            topLogit = () => logits.Value.max().item<float>();
        }
        Console.WriteLine(topLogit());
        """);

    [Fact]
    public Task Lambda_forms_with_an_invoker_captured_by_a_step_lambda() => AssertNoDiagnosticsAsync("""
        TensorProxy prompt = null!, last = null!, other = null!;
        model.Generate(gen =>
        {
            var invoker = gen.Invoke(prompts[0]);
            Action step = () => invoker.Next();
            prompt = model.LmHead.Output.Save();
            step();
            step();
            last = model.LmHead.Output.Save();
            invoker.Dispose();
            gen.Invoke(prompts[1], () => other = model.Transformer.H[^1].Output[0].Save());
        }, maxNewTokens: 3);
        Console.WriteLine(prompt.Value.shape[1] + last.Value.shape[1] + other.Value.shape[1]);
        """);

    [Fact]
    public Task Invoke_lambdas_given_their_invoker_step_through_each_generation() => AssertNoDiagnosticsAsync("""
        var tokens = new List<TensorProxy>();
        using (var gen = model.Generate(maxNewTokens: 3))
        {
            foreach (var prompt in prompts)
            {
                gen.Invoke(prompt, invoker =>
                {
                    for (var step = 0; step < 3; step++)
                    {
                        tokens.Add(model.LmHead.Output[.., ^1].argmax(-1).Save());
                        if (step < 2)
                        {
                            invoker.Next();
                        }
                    }
                });
            }
        }
        model.Generate(gen => gen.Invoke(prompts[0], invoker =>
        {
            invoker.Next();
            tokens.Add(model.Transformer.H[^1].Output[0].Save());
        }), maxNewTokens: 2);
        Console.WriteLine(tokens.Count);
        """);

    [Fact]
    public Task Several_invokers_patch_one_prompt_with_another() => AssertNoDiagnosticsAsync("""
        TensorProxy clean, patched;
        using (var tracer = model.Trace())
        {
            TensorProxy source;
            using (tracer.Invoke(prompts[0]))
            {
                source = model.Transformer.H[2].Output[0];
                clean = model.LmHead.Output[.., ^1].Save();
            }
            using (tracer.Invoke(prompts[1]))
            {
                model.Transformer.H[2].Output[0][.., ^1] = source[.., ^1];
                patched = model.LmHead.Output[.., ^1].Save();
            }
        }
        Console.WriteLine((clean.Value - patched.Value).abs().sum().item<float>());
        """);

    [Fact]
    public Task Next_under_if_and_else_in_a_step_loop() => AssertNoDiagnosticsAsync("""
        var steps = new List<TensorProxy>();
        var steer = args.Length > 0;
        using (var gen = model.Generate(maxNewTokens: 3))
        using (var invoker = gen.Invoke(prompts[0]))
        {
            for (var step = 0; step < 3; step++)
            {
                if (steer && step == 1)
                {
                    model.Transformer.H[6].Output[0] = model.Transformer.H[6].Output[0] * 0.5f;
                }
                steps.Add(model.LmHead.Output.Save());
                if (step < 2)
                {
                    invoker.Next();
                }
                else
                {
                    Console.WriteLine("last step recorded");
                }
            }
        }
        Console.WriteLine(steps.Count);
        """);

    [Fact]
    public Task Next_in_both_branches_then_once_more() => AssertNoDiagnosticsAsync("""
        TensorProxy first, last;
        using (var gen = model.Generate(maxNewTokens: 3))
        using (var invoker = gen.Invoke(prompts[0]))
        {
            first = model.LmHead.Output.Save();
            if (args.Length > 0)
            {
                invoker.Next();
                model.Transformer.H[0].Output[0] = model.Transformer.H[0].Output[0] * 0;
            }
            else
            {
                invoker.Next();
            }
            invoker.Next();
            last = model.LmHead.Output.Save();
        }
        Console.WriteLine(first.Value.shape[1] - last.Value.shape[1]);
        """);

    [Fact]
    public Task Step_loop_that_stops_early() => AssertNoDiagnosticsAsync("""
        var tokens = new List<TensorProxy>();
        using (var gen = model.Generate(maxNewTokens: 4))
        using (var invoker = gen.Invoke(prompts[0]))
        {
            for (var step = 0; step < 10; step++)
            {
                tokens.Add(model.LmHead.Output[.., ^1].argmax(-1).Save());
                if (step == 3)
                {
                    break;
                }
                invoker.Next();
            }
        }
        Console.WriteLine(string.Join(", ", tokens.Select(token => token.Value.item<long>())));
        """);

    [Fact]
    public Task Step_loop_that_skips_steps() => AssertNoDiagnosticsAsync("""
        var everyOther = new List<TensorProxy>();
        using (var gen = model.Generate(maxNewTokens: 4))
        using (var invoker = gen.Invoke(prompts[0]))
        {
            for (var step = 0; step < 6; step += 2)
            {
                everyOther.Add(model.Transformer.H[^1].Output[0].Save());
                invoker.Next();
            }
        }
        Console.WriteLine(everyOther.Count);
        """);

    [Fact]
    public Task Helper_class_opens_one_invoker_per_prompt() => AssertNoDiagnosticsAsync("""
        List<TensorProxy> hidden;
        using (var tracer = model.Trace())
        {
            hidden = Probe.LastHidden(model, tracer, prompts);
        }
        Console.WriteLine(hidden.Sum(proxy => proxy.Value.shape[1]));

        static class Probe
        {
            public static List<TensorProxy> LastHidden(ModelGpt2 model, Tracer tracer, IEnumerable<string> prompts)
            {
                var hidden = new List<TensorProxy>();
                foreach (var prompt in prompts)
                {
                    using var invoker = tracer.Invoke(prompt);
                    hidden.Add(model.Transformer.H[^1].Output[0].Save());
                }
                return hidden;
            }
        }
        """);

    [Fact]
    public Task Layer_loop_ablates_every_layer_in_forward_order() => AssertNoDiagnosticsAsync("""
        TensorProxy logits;
        using (var tracer = model.Trace())
        using (tracer.Invoke(prompts[0]))
        {
            for (var layer = 0; layer < 12; layer++)
            {
                model.Transformer.H[layer].Mlp.Output = model.Transformer.H[layer].Mlp.Output * 0.9f;
            }
            logits = model.LmHead.Output.Save();
        }
        Console.WriteLine(logits.Value.shape[^1]);
        """);

    [Fact]
    public Task Saved_value_of_a_finished_trace_read_inside_the_next() => AssertNoDiagnosticsAsync("""
        TensorProxy clean, steered;
        using (var tracer = model.Trace())
        using (tracer.Invoke(prompts[0]))
        {
            clean = model.Transformer.H[5].Output[0].Save();
        }
        using (var tracer = model.Trace())
        using (tracer.Invoke(prompts[1]))
        {
            var direction = clean.Value.mean([1], keepdim: true);
            model.Transformer.H[5].Output[0] = model.Transformer.H[5].Output[0] + direction;
            steered = model.LmHead.Output.Save();
        }
        Console.WriteLine(steered.Value.shape[^1]);
        """);

    [Fact]
    public Task Local_code_only_in_a_local_trace_and_plain_saves_in_a_remote_one() => AssertNoDiagnosticsAsync("""
        TensorProxy local, remote;
        using (var tracer = model.Trace())
        using (tracer.Invoke(prompts[0]))
        {
            local = model.LmHead.Output.Apply(logits => logits.softmax(-1)).Save();
        }
        using (var tracer = model.Trace(remote: true))
        using (tracer.Invoke(prompts[0]))
        {
            remote = model.LmHead.Output.softmax(-1).Save();
        }
        Console.WriteLine((local.Value - remote.Value).abs().max().item<float>());
        """);

    [Fact]
    public Task Trace_lambda_with_using_declared_invokers_and_steps_in_a_switch() => AssertNoDiagnosticsAsync("""
        var saved = new List<TensorProxy>();
        model.Generate(gen =>
        {
            using var invoker = gen.Invoke(prompts[0]);
            for (var step = 0; step < 2; step++)
            {
                switch (step)
                {
                    case 0:
                        saved.Add(model.Transformer.H[0].Output[0].Save());
                        invoker.Next();
                        break;
                    default:
                        saved.Add(model.LmHead.Output.Save());
                        break;
                }
            }
        }, maxNewTokens: 2);
        model.Trace(tracer =>
        {
            using (tracer.Invoke(prompts[1]))
            {
                saved.Add(model.Transformer.H[^1].Output[0].Save());
            }
        });
        Console.WriteLine(saved.Count);
        """);

    [Fact]
    public Task Steering_at_every_step_with_per_step_and_single_values_then_Stop() => AssertNoDiagnosticsAsync("""
        TensorProxy prompt, perStep, untyped, last;
        using (var gen = model.Generate(maxNewTokens: 3))
        using (var invoker = gen.Invoke(prompts[0]))
        {
            prompt = model.Transformer.H[0].Output[0].Save();
            using (invoker.All())
            {
                model.Transformer.H[2].Output[0] = model.Transformer.H[2].Output[0] * 1.5;
                perStep = model.Transformer.H[^1].Output[0].Save();
            }
            using (invoker.Steps(1..))
            {
                untyped = model.Envoy("transformer.h.3").Output[0].Save();
            }
            invoker.Next();
            invoker.Next();
            last = model.LmHead.Output.Save();
            gen.Stop();
        }
        Console.WriteLine(prompt.Value.shape[^1] + perStep.Values.Count + untyped.Values.Count + last.Value.shape[^1]);
        """);

    [Fact]
    public Task Step_scope_held_without_using_then_Next_after_it() => AssertNoDiagnosticsAsync("""
        TensorProxy first, second;
        using (var gen = model.Generate(maxNewTokens: 2))
        using (var invoker = gen.Invoke(prompts[1]))
        {
            var steps = invoker.Steps(..2);
            first = model.LmHead.Output.Save();
            steps.Dispose();
            invoker.Next();
            second = model.LmHead.Output.Save();
        }
        Console.WriteLine(first.Values.Count + second.Value.shape[0]);
        """);

    private static async Task AssertNoDiagnosticsAsync(string program) =>
        Assert.Empty(await AnalyzerVerifier.AllDiagnosticsAsync(Header + program));
}
