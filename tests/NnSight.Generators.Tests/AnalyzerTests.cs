using Microsoft.CodeAnalysis.Testing;
using NnSight.CodeFixes;
using NnSight.Generators.Analyzers;

namespace NnSight.Generators.Tests;

/// <summary>One test class per rule would repeat the same scaffolding; each rule has its own tests here, with markup.</summary>
public sealed partial class AnalyzerTests
{
    private const string Header = """
        using System;
        using Models;
        using NnSight;

        var model = ModelGpt2.FromPretrained("models/gpt2");

        """;

    [Fact]
    public Task NNS0101_constant_indices_past_the_list_including_aliases_constants_and_loops() =>
        AnalyzerVerifier.VerifyAsync<ModuleIndexOutOfRangeAnalyzer>(Header + """
            var first = model.Transformer.H[0];
            var last = model.Transformer.H[11];
            var fromEnd = model.Transformer.H[^12];
            var past = model.Transformer.H[{|NNS0101:12|}];
            var pastEnd = model.Transformer.H[{|NNS0101:^13|}];
            var zeroFromEnd = model.Transformer.H[{|NNS0101:^0|}];
            var layers = model.Transformer.H;
            var aliased = layers[{|NNS0101:12|}];
            const int Layer = 20;
            var constant = layers[{|NNS0101:Layer|}];
            for (var i = 0; i < 12; i++)
            {
                var inRange = layers[i];
            }
            for (var i = 0; i < 13; i++)
            {
                var tooFar = layers[{|NNS0101:i|}];
            }
            for (var i = 0; i <= 12; i++)
            {
                var tooFar = model.Transformer.H[{|NNS0101:i|}];
            }
            var n = Environment.ProcessorCount;
            var unknown = layers[n];
            """);

    [Fact]
    public Task NNS0101_messages_name_the_list_and_its_range() =>
        AnalyzerVerifier.VerifyAsync<ModuleIndexOutOfRangeAnalyzer>(Header + """
            var past = model.Transformer.H[{|#0:12|}];
            var python = model.Transformer.H[{|#1:-1|}];
            """,
            new DiagnosticResult(DiagnosticDescriptors.ModuleIndexOutOfRange).WithLocation(0)
                .WithArguments("model.Transformer.H[12] is out of range: transformer.h has 12 modules (0 to 11, or ^1 to ^12)"),
            new DiagnosticResult(DiagnosticDescriptors.ModuleIndexOutOfRange).WithLocation(1)
                .WithArguments("model.Transformer.H[-1] counts from the end in Python, but a negative index is invalid in C#; write model.Transformer.H[^1]"));

    [Fact]
    public Task NNS0101_fix_turns_a_negative_index_into_a_from_end_index() =>
        AnalyzerVerifier.VerifyFixAsync<ModuleIndexOutOfRangeAnalyzer, NegativeIndexCodeFix>(
            Header + "var last = model.Transformer.H[{|NNS0101:-1|}];\n",
            Header + "var last = model.Transformer.H[^1];\n");

    [Fact]
    public Task NNS0102_value_read_inside_the_context_that_produces_it() =>
        AnalyzerVerifier.VerifyAsync<ValueReadInsideTraceAnalyzer>(Header + """
            TensorProxy hidden;
            using (var tracer = model.Trace())
            using (tracer.Invoke("The Eiffel Tower is in the city of"))
            {
                hidden = model.Transformer.H[^1].Output[0].Save();
                var early = {|NNS0102:hidden.Value|};
                var direct = {|NNS0102:model.LmHead.Output.Save().Value|};
            }
            var late = hidden.Value;

            TensorProxy before;
            using (var first = model.Trace())
            using (first.Invoke("a"))
            {
                before = model.LmHead.Output.Save();
            }
            using (var second = model.Trace())
            using (second.Invoke("b"))
            {
                var fromEarlierRun = before.Value;
            }

            model.Trace(tracer => tracer.Invoke("c", () =>
            {
                var saved = model.LmHead.Output.Save();
                var inLambda = {|NNS0102:saved.Value|};
            }));

            using var declared = model.Trace();
            using var invoker = declared.Invoke("d");
            var inDeclaration = model.LmHead.Output.Save();
            var read = {|NNS0102:inDeclaration.Value|};
            """);

    [Fact]
    public Task NNS0102_does_not_judge_a_lambda_that_runs_when_called() =>
        AnalyzerVerifier.VerifyAsync<ValueReadInsideTraceAnalyzer>(Header + """
            Func<float> top;
            using (var tracer = model.Trace())
            {
                TensorProxy logits;
                using (tracer.Invoke("a"))
                {
                    logits = model.LmHead.Output.Save();
                }
                top = () => logits.Value.max().item<float>();
                var now = {|NNS0102:logits.Value|};
            }
            var later = top();
            """);

    [Fact]
    public Task NNS0103_value_of_a_proxy_never_saved_following_locals() =>
        AnalyzerVerifier.VerifyAsync<ValueNeverSavedAnalyzer>(Header + """
            TensorProxy saved, unsaved, copied, sum, savedLater, fromHelper;
            using (var tracer = model.Trace())
            using (tracer.Invoke("The Eiffel Tower is in the city of"))
            {
                saved = model.LmHead.Output.Save();
                unsaved = model.LmHead.Output;
                var alias = saved;
                copied = alias;
                sum = saved.sum();
                savedLater = model.Transformer.LnF.Output;
                savedLater.Save();
                fromHelper = Helper(model);
            }
            var a = saved.Value;
            var b = {|NNS0103:unsaved.Value|};
            var c = copied.Value;
            var d = {|NNS0103:sum.Value|};
            var e = savedLater.Value;
            var f = fromHelper.Value;

            static TensorProxy Helper(ModelGpt2 model) => model.LmHead.Output.Save();
            """);

    [Fact]
    public Task NNS0103_fix_saves_the_proxy_where_it_is_assigned() =>
        AnalyzerVerifier.VerifyFixAsync<ValueNeverSavedAnalyzer, AddSaveCodeFix>(Header + """
            TensorProxy logits;
            using (var tracer = model.Trace())
            using (tracer.Invoke("The Eiffel Tower is in the city of"))
            {
                logits = model.LmHead.Output[.., ^1];
            }
            var read = {|NNS0103:logits.Value|};
            """, Header + """
            TensorProxy logits;
            using (var tracer = model.Trace())
            using (tracer.Invoke("The Eiffel Tower is in the city of"))
            {
                logits = model.LmHead.Output[.., ^1].Save();
            }
            var read = logits.Value;
            """);

    [Fact]
    public Task NNS0104_module_access_in_a_trace_outside_invoke() =>
        AnalyzerVerifier.VerifyAsync<ModuleAccessOutsideInvokeAnalyzer>(Header + """
            using (var tracer = model.Trace())
            {
                var outside = {|NNS0104:model.LmHead.Output|};
                {|NNS0104:model.Transformer.Wte.Output|} = outside;
                var called = {|NNS0104:model.LmHead.Call(outside)|};
                {|NNS0104:model.Transformer.H[1].Skip(outside)|};
                var typedRoot = {|NNS0104:model.Output|};
                using (tracer.Invoke("The Eiffel Tower is in the city of"))
                {
                    var inside = model.LmHead.Output;
                    model.Transformer.Wte.Output = inside;
                }
                tracer.Invoke("in a lambda", () => { var inLambda = model.Transformer.H[0].Output.HiddenStates; });
            }
            var notInATrace = Helper(model);

            static TensorProxy Helper(ModelGpt2 model) => model.LmHead.Output;
            """);

    [Fact]
    public Task NNS0104_invokers_held_without_using_are_open_until_disposed() =>
        AnalyzerVerifier.VerifyAsync<ModuleAccessOutsideInvokeAnalyzer>(Header + """
            TensorProxy x, y;
            using (var tracer = model.Trace())
            {
                var inv = tracer.Invoke("a");
                x = model.LmHead.Output.Save();
                inv.Dispose();
                var afterDispose = {|NNS0104:model.LmHead.Output|};

                Invoker? guarded = null;
                try
                {
                    guarded = tracer.Invoke("b");
                    y = model.Transformer.H[0].Output[0].Save();
                }
                finally
                {
                    guarded?.Dispose();
                }
                var afterFinally = {|NNS0104:model.LmHead.Output|};

                var declaredBeforeTry = tracer.Invoke("c");
                try
                {
                    var inTry = model.LmHead.Output;
                }
                finally
                {
                    declaredBeforeTry.Dispose();
                }
                var afterTry = {|NNS0104:model.LmHead.Output|};

                var disposedByUsing = tracer.Invoke("e");
                using (disposedByUsing)
                {
                    var inUsing = model.LmHead.Output;
                }
                var afterUsing = {|NNS0104:model.LmHead.Output|};

                tracer.Invoke("d");
                var neverDisposed = model.LmHead.Output;
            }
            """);

    [Fact]
    public Task NNS0104_does_not_judge_lambdas_and_local_functions_which_run_when_called() =>
        AnalyzerVerifier.VerifyAsync<ModuleAccessOutsideInvokeAnalyzer>(Header + """
            using (var tracer = model.Trace())
            {
                Func<TensorProxy> logits = () => model.LmHead.Output;
                TensorProxy Hidden(int layer) => model.Transformer.H[layer].Output[0];
                var direct = {|NNS0104:model.LmHead.Output|};
                using (tracer.Invoke("a"))
                {
                    var saved = logits().Save();
                    var hidden = Hidden(3).Save();
                }
            }
            """);

    [Fact]
    public Task NNS0105_next_past_the_last_forward_pass() =>
        AnalyzerVerifier.VerifyAsync<TooManyNextCallsAnalyzer>(Header + """
            using (var gen = model.Generate(maxNewTokens: 3))
            using (var invoker = gen.Invoke("a"))
            {
                invoker.Next();
                invoker.Next();
                {|NNS0105:invoker.Next()|};
            }
            using (var gen = model.Generate(maxNewTokens: 4))
            using (var invoker = gen.Invoke("b"))
            {
                for (var i = 0; i < 3; i++)
                {
                    invoker.Next();
                }
            }
            var generator = model.Generate(maxNewTokens: 2);
            using (generator)
            using (var invoker = generator.Invoke("c"))
            {
                for (var i = 0; i < 2; i++)
                {
                    {|NNS0105:invoker.Next()|};
                }
            }
            using (var trace = model.Trace())
            using (var invoker = trace.Invoke("d"))
            {
                {|NNS0105:invoker.Next()|};
            }
            var tokens = Environment.ProcessorCount;
            using (var gen = model.Generate(maxNewTokens: tokens))
            using (var invoker = gen.Invoke("e"))
            {
                invoker.Next();
                invoker.Next();
            }
            using (var gen = model.Generate(maxNewTokens: 2))
            using (var invoker = gen.Invoke("f"))
            {
                for (var step = 0; step < 3; step++)
                {
                    if (step < 1)
                    {
                        invoker.Next();
                    }
                }
            }
            """);

    [Fact]
    public Task NNS0105_counts_per_invoker_when_a_loop_creates_one_per_iteration() =>
        AnalyzerVerifier.VerifyAsync<TooManyNextCallsAnalyzer>(Header + """
            string[] prompts = ["a", "b"];
            using (var gen = model.Generate(maxNewTokens: 3))
            {
                for (int r = 0; r < 2; r++)
                    using (var inv = gen.Invoke(prompts[r]))
                    {
                        var first = model.LmHead.Output.Save();
                        inv.Next();
                        var second = model.LmHead.Output.Save();
                        inv.Next();
                        var third = model.LmHead.Output.Save();
                    }
                for (int r = 0; r < 2; r++)
                {
                    using var inv = gen.Invoke(prompts[r]);
                    for (var step = 0; step < 3; step++)
                    {
                        {|NNS0105:inv.Next()|};
                    }
                }
            }
            """);

    [Fact]
    public Task NNS0105_message_gives_how_many_times_the_invoker_calls_Next() =>
        AnalyzerVerifier.VerifyAsync<TooManyNextCallsAnalyzer>(Header + """
            using (var gen = model.Generate(maxNewTokens: 2))
            using (var invoker = gen.Invoke("a"))
            {
                invoker.Next();
                {|#0:invoker.Next()|};
                invoker.Next();
            }
            """,
            new DiagnosticResult(DiagnosticDescriptors.TooManyNextCalls).WithLocation(0)
                .WithArguments("3", "invoker", "maxNewTokens: 2 gives 2 forward pass(es), so at most 1 Next() call(s)"));

    [Fact]
    public Task NNS0105_counts_loops_only_when_every_iteration_runs_in_full_with_a_step_of_one() =>
        AnalyzerVerifier.VerifyAsync<TooManyNextCallsAnalyzer>(Header + """
            using (var gen = model.Generate(maxNewTokens: 4))
            {
                using (var stopsEarly = gen.Invoke("a"))
                {
                    for (var step = 0; step < 10; step++)
                    {
                        if (step == 3)
                        {
                            break;
                        }
                        stopsEarly.Next();
                    }
                }
                using (var skips = gen.Invoke("b"))
                {
                    for (var step = 0; step < 6; step++)
                    {
                        if (step % 2 == 0)
                        {
                            continue;
                        }
                        skips.Next();
                    }
                }
                using (var byTwo = gen.Invoke("c"))
                {
                    for (var step = 0; step < 6; step += 2)
                    {
                        byTwo.Next();
                    }
                }
                using (var movesTheCounter = gen.Invoke("d"))
                {
                    for (var step = 0; step < 6; step++)
                    {
                        movesTheCounter.Next();
                        step++;
                    }
                }
                using (var prefix = gen.Invoke("e"))
                {
                    for (var step = 0; step < 4; ++step)
                    {
                        {|NNS0105:prefix.Next()|};
                    }
                }
                using (var addOne = gen.Invoke("f"))
                {
                    for (var step = 1; step <= 4; step += 1)
                    {
                        switch (step)
                        {
                            case 2:
                                break;
                        }
                        {|NNS0105:addOne.Next()|};
                    }
                }
            }
            """);

    [Fact]
    public Task NNS0105_does_not_judge_a_variable_that_holds_one_invoker_after_another() =>
        AnalyzerVerifier.VerifyAsync<TooManyNextCallsAnalyzer>(Header + """
            using (var gen = model.Generate(maxNewTokens: 2))
            {
                var invoker = gen.Invoke("a");
                invoker.Next();
                invoker.Dispose();
                invoker = gen.Invoke("b");
                invoker.Next();
                invoker.Dispose();
            }
            """);

    [Fact]
    public Task NNS0105_follows_the_context_of_a_Generate_or_Trace_lambda() =>
        AnalyzerVerifier.VerifyAsync<TooManyNextCallsAnalyzer>(Header + """
            model.Generate(gen =>
            {
                using var invoker = gen.Invoke("a");
                invoker.Next();
                invoker.Next();
                {|NNS0105:invoker.Next()|};
            }, maxNewTokens: 3);
            model.Trace(tracer =>
            {
                using (var invoker = tracer.Invoke("b"))
                {
                    {|NNS0105:invoker.Next()|};
                }
            });
            """);

    [Fact]
    public Task NNS0105_counts_Next_on_the_invoker_an_Invoke_lambda_is_given_per_invocation() =>
        AnalyzerVerifier.VerifyAsync<TooManyNextCallsAnalyzer>(Header + """
            using (var gen = model.Generate(maxNewTokens: 3))
            {
                foreach (var prompt in new[] { "a", "b" })
                {
                    gen.Invoke(prompt, invoker =>
                    {
                        invoker.Next();
                        invoker.Next();
                    });
                }
                gen.Invoke("c", invoker =>
                {
                    invoker.Next();
                    invoker.Next();
                    {|NNS0105:invoker.Next()|};
                });
            }
            model.Generate(gen => gen.Invoke("d", (Invoker invoker) =>
            {
                for (var step = 0; step < 2; step++)
                {
                    {|NNS0105:invoker.Next()|};
                }
            }), maxNewTokens: 2);
            """);

    [Fact]
    public Task NNS0105_Steps_range_outside_the_runs_forward_passes() =>
        AnalyzerVerifier.VerifyAsync<TooManyNextCallsAnalyzer>(Header + """
            using (var gen = model.Generate(maxNewTokens: 3))
            using (var invoker = gen.Invoke("a"))
            {
                using (invoker.Steps(1..3)) { }
                using (invoker.Steps(^1..)) { }
                using (invoker.Steps(..)) { }
                using (invoker.Steps({|NNS0105:1..4|})) { }
                using (invoker.Steps({|NNS0105:3..|})) { }
                using (invoker.Steps({|NNS0105:^4..^1|})) { }
            }
            using (var tracer = model.Trace())
            using (var invoker = tracer.Invoke("b"))
            using (invoker.Steps({|NNS0105:0..2|}))
            {
                var hidden = model.Transformer.H[0].Output[0].Save();
            }
            var tokens = Environment.ProcessorCount;
            var last = Environment.ProcessorCount;
            using (var gen = model.Generate(maxNewTokens: tokens))
            using (var invoker = gen.Invoke("c"))
            using (invoker.Steps(1..5))
            {
            }
            using (var gen = model.Generate(maxNewTokens: 3))
            using (var invoker = gen.Invoke("d"))
            using (invoker.Steps(1..last))
            {
            }
            """);

    [Fact]
    public Task NNS0105_Steps_message_gives_the_steps_the_run_has() =>
        AnalyzerVerifier.VerifyAsync<TooManyNextCallsAnalyzer>(Header + """
            using (var gen = model.Generate(maxNewTokens: 3))
            using (var invoker = gen.Invoke("a"))
            using (invoker.Steps({|#0:1..4|}))
            {
            }
            model.Trace(tracer => tracer.Invoke("b", invoker =>
            {
                using var steps = invoker.Steps({|#1:0..2|});
            }));
            """,
            new DiagnosticResult(DiagnosticDescriptors.StepsPastLastPass).WithLocation(0)
                .WithArguments("1..4", "maxNewTokens: 3 gives steps 0 to 2"),
            new DiagnosticResult(DiagnosticDescriptors.StepsPastLastPass).WithLocation(1)
                .WithArguments("0..2", "a trace has only step 0"));

    [Fact]
    public Task NNS0105_Next_inside_All_or_Steps() =>
        AnalyzerVerifier.VerifyAsync<TooManyNextCallsAnalyzer>(Header + """
            using (var gen = model.Generate(maxNewTokens: 5))
            using (var invoker = gen.Invoke("a"))
            {
                using (invoker.All())
                {
                    var hidden = model.Transformer.H[0].Output[0].Save();
                    {|#0:invoker.Next()|};
                }
                invoker.Next();
                var held = invoker.Steps(2..4);
                {|#1:invoker.Next()|};
                held.Dispose();
                invoker.Next();
                using var rest = invoker.All();
                {|#2:invoker.Next()|};
            }
            """,
            new DiagnosticResult(DiagnosticDescriptors.NextInsideSteps).WithLocation(0).WithArguments("invoker", "invoker.All()"),
            new DiagnosticResult(DiagnosticDescriptors.NextInsideSteps).WithLocation(1).WithArguments("invoker", "invoker.Steps(2..4)"),
            new DiagnosticResult(DiagnosticDescriptors.NextInsideSteps).WithLocation(2).WithArguments("invoker", "invoker.All()"));

    [Fact]
    public Task NNS0106_a_set_after_reading_a_later_module_in_the_same_step() =>
        AnalyzerVerifier.VerifyAsync<AccessOutOfForwardOrderAnalyzer>(Header + """
            using (var gen = model.Generate(maxNewTokens: 2))
            using (var invoker = gen.Invoke("The Eiffel Tower is in the city of"))
            {
                var late = model.Transformer.H[5].Output[0];
                {|NNS0106:model.Transformer.H[3].Output|}[0] = late;
                model.Transformer.H[7].Output[0] = late;
                var block = model.Transformer.H[9];
                var viaAlias = block.Mlp.Output;
                {|NNS0106:model.Transformer.H[8].Output|} = model.Transformer.H[8].Output;
                invoker.Next();
                model.Transformer.H[3].Output[0] = model.Transformer.H[3].Output[0] * 2;
            }
            """);

    [Fact]
    public Task NNS0107_apply_in_a_remote_trace() =>
        AnalyzerVerifier.VerifyAsync<LocalCodeInRemoteTraceAnalyzer>(Header + """
            using (var tracer = model.Trace(remote: true))
            using (tracer.Invoke("a"))
            {
                var doubled = {|NNS0107:model.LmHead.Output.Apply(logits => logits * 2)|}.Save();
            }
            using (var tracer = model.Trace(server: "http://127.0.0.1:5000"))
            using (tracer.Invoke("b"))
            {
                {|NNS0107:model.LmHead.Output.Apply(logits => logits)|};
            }
            var settings = new RemoteSettings(new Uri("http://127.0.0.1:5000"), "key");
            var generator = model.Generate(3, null, settings);
            using (generator)
            using (generator.Invoke("c"))
            {
                {|NNS0107:model.LmHead.Output.Apply(logits => logits)|};
            }
            using (var local = model.Trace())
            using (local.Invoke("d"))
            {
                var fine = model.LmHead.Output.Apply(logits => logits).Save();
            }
            using (var notRemote = model.Trace(remote: false))
            using (notRemote.Invoke("e"))
            {
                var fine = model.LmHead.Output.Apply(logits => logits).Save();
            }
            """);

    [Fact]
    public Task NNS0108_grad_in_a_trace_without_backward() =>
        AnalyzerVerifier.VerifyAsync<GradientWithoutBackwardAnalyzer>(Header + """
            using (var tracer = model.Trace())
            using (tracer.Invoke("a"))
            {
                var grad = {|NNS0108:model.Transformer.H[1].Output[0].Grad|}.Save();
                {|NNS0108:model.Transformer.H[2].Output[0].Grad|} = model.Transformer.H[2].Output[0] * 0;
            }
            using (var tracer = model.Trace())
            {
                using (tracer.Invoke("b"))
                {
                    var grad = model.Transformer.H[1].Output[0].Grad.Save();
                }
                using (tracer.Invoke("c"))
                {
                    model.LmHead.Output[0, ^1, 6342].Backward();
                }
            }
            model.Trace(t => t.Invoke("d", () =>
            {
                var grad = {|NNS0108:model.Transformer.H[1].Output[0].Grad|}.Save();
            }));
            using (var tracer = model.Trace())
            using (tracer.Invoke("e"))
            {
                var grad = model.Transformer.H[1].Output[0].Grad.Save();
                Loss(model).Backward();
            }
            using (var tracer = model.Trace())
            using (tracer.Invoke("f"))
            {
                var grad = model.Transformer.H[1].Output[0].Grad.Save();
                Finish(model);
            }

            static TensorProxy Loss(ModelGpt2 model) => model.LmHead.Output[0, ^1, 6342];
            static void Finish(ModelGpt2 model) => model.LmHead.Output[0, ^1, 6342].Backward();
            """);

    [Fact]
    public Task NNS0109_module_access_after_Stop_typed_and_untyped() =>
        AnalyzerVerifier.VerifyAsync<ModuleAccessAfterStopAnalyzer>(Header + """
            using (var tracer = model.Trace())
            {
                using (tracer.Invoke("a"))
                {
                    var first = model.Transformer.H[0].Output[0].Save();
                    var input = model.Transformer.H[1].Input;
                    tracer.Stop();
                    var later = {|NNS0109:model.Transformer.H[5].Output|}[0].Save();
                    {|NNS0109:model.Transformer.H[6].Input|} = first;
                    var inputs = {|NNS0109:model.Transformer.H[7].Inputs|};
                    {|NNS0109:model.Transformer.H[2].Skip(first)|};
                    var lens = {|NNS0109:model.LmHead.Call(first)|}.Save();
                    var untyped = {|NNS0109:model.Envoy("transformer.h.3").Output|}[0].Save();
                    var root = {|NNS0109:model.Output|};
                }
                using (tracer.Invoke("b"))
                {
                    var nextInvocation = {|NNS0109:model.LmHead.Output|}.Save();
                }
            }
            var generator = model.Generate(maxNewTokens: 3);
            using (generator)
            using (var invoker = generator.Invoke("c"))
            {
                invoker.Next();
                var second = model.Transformer.H[1].Output[0].Save();
                generator.Stop();
                var after = {|NNS0109:model.Transformer.H[11].Output|}[0].Save();
            }
            model.Trace(tracer => tracer.Invoke("d", () =>
            {
                tracer.Stop();
                var inLambda = {|NNS0109:model.LmHead.Output|}.Save();
            }));
            """);

    [Fact]
    public Task NNS0109_leaves_alone_accesses_before_Stop_other_traces_and_deferred_Stop_calls() =>
        AnalyzerVerifier.VerifyAsync<ModuleAccessAfterStopAnalyzer>(Header + """
            using (var stopped = model.Trace())
            using (stopped.Invoke("a"))
            {
                var first = model.Transformer.H[0].Output[0].Save();
                stopped.Stop();
            }
            using (var tracer = model.Trace())
            using (tracer.Invoke("b"))
            {
                var full = model.LmHead.Output.Save();
            }
            using (var tracer = model.Trace())
            using (tracer.Invoke("c"))
            {
                Action stop = () => tracer.Stop();
                var beforeTheCall = model.Transformer.H[0].Output[0].Save();
                stop();
            }
            using (var outer = model.Trace())
            {
                using (outer.Invoke("d"))
                {
                    outer.Stop();
                    Func<TensorProxy> deferred = () => model.LmHead.Output;
                }
            }
            """);

    [Fact]
    public Task NNS0109_message_names_the_access() =>
        AnalyzerVerifier.VerifyAsync<ModuleAccessAfterStopAnalyzer>(Header + """
            using (var tracer = model.Trace())
            using (tracer.Invoke("a"))
            {
                var first = model.Transformer.H[0].Output[0].Save();
                tracer.Stop();
                var later = {|#0:model.Transformer.H[5].Output|}[0].Save();
            }
            """,
            new DiagnosticResult(DiagnosticDescriptors.ModuleAccessAfterStop).WithLocation(0).WithArguments("model.Transformer.H[5].Output"));

    [Fact]
    public Task NNS0110_Values_on_a_proxy_recorded_outside_steps_and_Value_on_one_recorded_inside() =>
        AnalyzerVerifier.VerifyAsync<ValueOrValuesMismatchAnalyzer>(Header + """
            TensorProxy perStep, once, untyped, chosen, resaved, held, afterHeld, declared;
            using (var gen = model.Generate(maxNewTokens: 3))
            using (var invoker = gen.Invoke("a"))
            {
                once = model.Transformer.H[0].Output[0].Save();
                untyped = model.Envoy("transformer.h.3").Output[0].Save();
                using (invoker.All())
                {
                    perStep = model.Transformer.H[^1].Output[0].Save();
                    resaved = once.Save();
                }
                using (invoker.Steps(1..3))
                {
                    chosen = (model.LmHead.Output * 2).Save();
                }
                var steps = invoker.All();
                held = model.Transformer.LnF.Output.Save();
                steps.Dispose();
                afterHeld = model.Transformer.LnF.Output.Save();
            }
            using (var gen = model.Generate(maxNewTokens: 2))
            {
                using var invoker = gen.Invoke("b");
                using var all = invoker.All();
                declared = model.LmHead.Output.Save();
            }
            var alias = once;
            var perStepValues = perStep.Values;
            var perStepValue = {|NNS0110:perStep.Value|};
            var onceValue = once.Value;
            var onceValues = {|NNS0110:once.Values|};
            var aliasValues = {|NNS0110:alias.Values|};
            var untypedValues = {|NNS0110:untyped.Values|};
            var chosenValues = chosen.Values;
            var chosenValue = {|NNS0110:chosen.Value|};
            var resavedValue = resaved.Value;
            var resavedValues = {|NNS0110:resaved.Values|};
            var heldValue = {|NNS0110:held.Value|};
            var afterHeldValues = {|NNS0110:afterHeld.Values|};
            var declaredValue = {|NNS0110:declared.Value|};
            """);

    [Fact]
    public Task NNS0110_leaves_alone_values_of_unknown_origin_and_deferred_recordings() =>
        AnalyzerVerifier.VerifyAsync<ValueOrValuesMismatchAnalyzer>(Header + """
            TensorProxy fromHelper, inLambda = null!, mixed;
            using (var gen = model.Generate(maxNewTokens: 3))
            using (var invoker = gen.Invoke("a"))
            {
                Action record = () => inLambda = model.LmHead.Output.Save();
                using (invoker.All())
                {
                    fromHelper = Helper(model);
                    record();
                    mixed = model.LmHead.Output.Save();
                }
                if (fromHelper is null)
                {
                    mixed = model.Transformer.H[0].Output[0].Save();
                }
            }
            var a = fromHelper.Values;
            var b = fromHelper.Value;
            var c = inLambda.Values;
            var d = mixed.Values;
            var e = mixed.Value;
            var notInATrace = model.LmHead.Output;
            var f = notInATrace.Values;

            static TensorProxy Helper(ModelGpt2 model) => model.LmHead.Output.Save();
            """);

    [Fact]
    public Task NNS0110_messages_name_the_property_to_read() =>
        AnalyzerVerifier.VerifyAsync<ValueOrValuesMismatchAnalyzer>(Header + """
            TensorProxy perStep, once;
            using (var gen = model.Generate(maxNewTokens: 3))
            using (var invoker = gen.Invoke("a"))
            {
                once = model.Transformer.H[0].Output[0].Save();
                using (invoker.All())
                {
                    perStep = model.Transformer.H[^1].Output[0].Save();
                }
            }
            var a = {|#0:once.Values|};
            var b = {|#1:perStep.Value|};
            """,
            new DiagnosticResult(DiagnosticDescriptors.ValuesOfSingleValueProxy).WithLocation(0).WithArguments("once"),
            new DiagnosticResult(DiagnosticDescriptors.ValueOfPerStepProxy).WithLocation(1).WithArguments("perStep"));
}
