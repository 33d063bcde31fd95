using NnSight.Models;
using NnSight.Models.Gpt2;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary><c>tracer.Stop()</c> ends the forward early; <c>envoy.Skip(value)</c> makes a value a module's output.</summary>
public sealed class StopAndSkipTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private static string Eiffel => ReferenceIndex.Gpt2.Prompts["eiffel"].Text;
    private static string Madison => ReferenceIndex.Gpt2.Prompts["madison"].Text;
    private readonly LanguageModel _model = fixture.Model;

    private Envoy Block(int index) => _model.Envoy("transformer.h")[index];

    [Fact]
    public void Stop_ends_the_forward_once_every_node_has_run_with_the_full_runs_values()
    {
        var laterCalls = 0;
        var counter = CountCalls("transformer.h.2", () => laterCalls++);
        TensorProxy stopped, full;
        var tracer = _model.Trace();
        using (tracer)
        using (tracer.Invoke(Eiffel))
        {
            stopped = (Block(0).Output[0] * 2).Save();
            tracer.Stop();
        }
        Assert.Equal(0, laterCalls);
        using (var tracer2 = _model.Trace())
        using (tracer2.Invoke(Eiffel))
        {
            full = (Block(0).Output[0] * 2).Save();
        }

        TensorAssert.Close(full.Value, stopped.Value, 0, 0, "stopped vs full");
        Assert.Contains("stopped early (Stop())", Assert.Throws<ValueNotReadyException>(() => tracer.Output).Message, StringComparison.Ordinal);
        Assert.Equal(1, laterCalls);
        counter.Dispose();
        HookAssert.NoHooks(_model.Module);
    }

    [Fact]
    public void Stop_in_a_generation_ends_it_at_the_step_where_the_last_node_runs()
    {
        var laterCalls = 0;
        using var counter = CountCalls("transformer.h.3", () => laterCalls++);
        TensorProxy second;
        var generator = _model.Generate(maxNewTokens: 5);
        using (generator)
        using (var invoker = generator.Invoke(Eiffel))
        {
            invoker.Next();
            second = Block(1).Output[0].Save();
            generator.Stop();
        }

        Assert.Equal(1, laterCalls);
        TensorAssert.Close(RunStep1Block(1), second.Value, 0, 0, "block 1 at step 1, stopped vs full");
    }

    private Tensor RunStep1Block(int block)
    {
        TensorProxy hidden;
        using (var generator = _model.Generate(maxNewTokens: 2))
        using (var invoker = generator.Invoke(Eiffel))
        {
            invoker.Next();
            hidden = Block(block).Output[0].Save();
        }
        return hidden.Value;
    }

    [Fact]
    public void Skip_equals_setting_the_output_and_refuses_another_structure_before_the_run()
    {
        TensorProxy skipped, set;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            Block(1).Skip(Block(0).Output);
            skipped = _model.Envoy("lm_head").Output.Save();
        }
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            Block(1).Output = Block(0).Output;
            set = _model.Envoy("lm_head").Output.Save();
        }
        TensorAssert.Close(set.Value, skipped.Value, 0, 0, "Skip vs setting the output");

        using var tracer3 = _model.Trace();
        using var invoker = tracer3.Invoke(Eiffel);
        var error = Assert.Throws<ShapeMismatchException>(() => Block(1).Skip(Block(0).Output[0]));
        Assert.Contains("transformer.h.1.Skip(...) replaces an output of ([1, 10, 64], ([1, 4, 10, 16], [1, 4, 10, 16])) in invocation 0 with a value of [1, 10, 64]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_module_every_invocation_skips_does_not_compute_and_one_some_invocations_skip_still_does()
    {
        var attentionCalls = 0;
        using var counter = CountCalls("transformer.h.1.attn", () => attentionCalls++);

        var (bothSkipped, callsSkipped) = (Logits(skipFirst: true, skipSecond: true, useSkip: true), attentionCalls);
        var (bothSet, callsSet) = (Logits(skipFirst: true, skipSecond: true, useSkip: false), attentionCalls - callsSkipped);
        Assert.Equal((0, 1), (callsSkipped, callsSet));
        TensorAssert.Close(bothSet.First, bothSkipped.First, 0, 0, "first invocation, every invocation skipping");
        TensorAssert.Close(bothSet.Second, bothSkipped.Second, 0, 0, "second invocation, every invocation skipping");

        attentionCalls = 0;
        var firstSkipped = Logits(skipFirst: true, skipSecond: false, useSkip: true);
        var firstSet = Logits(skipFirst: true, skipSecond: false, useSkip: false);
        Assert.Equal(2, attentionCalls);
        TensorAssert.Close(firstSet.First, firstSkipped.First, 0, 0, "first invocation skipping alone");
        TensorAssert.Close(firstSet.Second, firstSkipped.Second, 0, 0, "second invocation running");
    }

    /// <summary>The logits of two invocations whose block 1 is skipped (or has its output set) with block 0's output.</summary>
    private (Tensor First, Tensor Second) Logits(bool skipFirst, bool skipSecond, bool useSkip)
    {
        var logits = new TensorProxy[2];
        using (var tracer = _model.Trace())
        {
            foreach (var (invocation, prompt, skip) in new[] { (0, Eiffel, skipFirst), (1, Madison, skipSecond) })
            {
                using (tracer.Invoke(prompt))
                {
                    if (skip && useSkip)
                    {
                        Block(1).Skip(Block(0).Output);
                    }
                    else if (skip)
                    {
                        Block(1).Output = Block(0).Output;
                    }
                    logits[invocation] = _model.Envoy("lm_head").Output.Save();
                }
            }
        }
        return (logits[0].Value, logits[1].Value);
    }

    [Fact]
    public void The_submodules_of_a_skipped_module_cannot_be_used_in_that_invocation()
    {
        using var tracer = _model.Trace();
        using (tracer.Invoke(Eiffel))
        {
            Block(1).Skip(Block(0).Output);
            var inside = Assert.Throws<TracingException>(() => Block(1).Child("attn").Output.Save());
            Assert.EndsWith("transformer.h.1.attn is inside transformer.h.1, which invocation 0 skips: the submodules of a skipped module do not run.",
                inside.Message, StringComparison.Ordinal);
            Block(2).Child("attn").Output[0].Save();
        }
        using (tracer.Invoke(Eiffel))
        {
            Block(1).Child("mlp").Output.Save();
            var after = Assert.Throws<TracingException>(() => Block(1).Skip(Block(0).Output));
            Assert.EndsWith("transformer.h.1.Skip(...) comes after a use of transformer.h.1.mlp in invocation 1, but the submodules of a skipped module do not run.",
                after.Message, StringComparison.Ordinal);
        }
        using (tracer.Invoke(Eiffel))
        {
            Block(1).Output[0].Save();
            var read = Assert.Throws<TracingException>(() => Block(1).Skip(Block(0).Output));
            Assert.EndsWith("transformer.h.1.Skip(...) comes after a read of transformer.h.1.Output in invocation 2, but a skipped module has no output of its own: read it after Skip() to get the value it is skipped with.",
                read.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>Counts the forward calls of a block or an attention module with a plain TorchSharp hook.</summary>
    private IDisposable CountCalls(string path, Action called) => _model.ModuleAt(path) switch
    {
        GPT2Block block => new Remover(block.register_forward_hook((_, _, _, _, output) => { called(); return output; }).remove),
        GPT2Attention attention => new Remover(attention.register_forward_hook((_, _, _, _, output) => { called(); return output; }).remove),
        var other => throw new ArgumentException($"{path} is a {other.GetType().Name}."),
    };

    private sealed class Remover(Action remove) : IDisposable
    {
        public void Dispose() => remove();
    }
}
