using NnSight.Models;
using NnSight.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary>How a trace runs: errors, ownership, cleanup, multi-invocation batching, inputs and tuples.</summary>
public sealed class ExecutionTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private static readonly ReferenceIndex Reference = ReferenceIndex.Gpt2;
    private readonly LanguageModel _model = fixture.Model;
    private static string Eiffel => Reference.Prompts["eiffel"].Text;
    private static string IoiClean => Reference.Prompts["ioi_clean"].Text;

    private Envoy Block(Index index) => _model.Envoy("transformer.h")[index];

    [Fact]
    public void Saved_module_values_keep_the_value_they_had_when_saved_whether_shared_or_copied()
    {
        var cache = Reference.Scenario("07_cache_all");
        TensorProxy shared, beforeWrite, afterWrite;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            shared = Block(2).Output[0].Save();
        }
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            beforeWrite = Block(2).Output[0].Save();
            Block(2).Output[0][.., 0] = 0;
            afterWrite = Block(2).Output[0].Save();
        }

        cache.Expect("transformer.h.2.0", shared.Value);
        cache.Expect("transformer.h.2.0", beforeWrite.Value);
        Assert.Equal(0f, afterWrite.Value[.., 0].abs().max().item<float>());
    }

    [Fact]
    public void Reading_a_value_before_the_run_names_the_proxy_and_its_line()
    {
        using var tracer = _model.Trace();
        using var invoker = tracer.Invoke(Eiffel);
        var hidden = Block(^1).Output[0].Save();

        var error = Assert.Throws<ValueNotReadyException>(() => hidden.Value);

        Assert.Contains("ExecutionTests.cs:", error.Message, StringComparison.Ordinal);
        Assert.Contains("transformer.h.3.output[0] is not ready", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reading_a_value_never_saved_is_its_own_error()
    {
        TensorProxy hidden;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            hidden = Block(^1).Output[0];
        }

        var error = Assert.Throws<ValueNotSavedException>(() => hidden.Value);
        Assert.Contains("transformer.h.3.output[0] was never saved", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_step_the_generation_never_reaches_is_an_error_naming_module_and_step()
    {
        var tracer = _model.Generate(maxNewTokens: 2);
        using (var invoker = tracer.Invoke(Eiffel))
        {
            Block(^1).Output[0].Save();
            invoker.Next();
            invoker.Next();
            Block(^1).Output[0].Save();
        }

        var error = Assert.Throws<ModuleNotCalledException>(tracer.Dispose);

        Assert.Contains("transformer.h.3.output (step 2) in invocation 0 was never reached: transformer.h.3 ran 2 time(s)", error.Message, StringComparison.Ordinal);
        AssertModelClean();
    }

    [Fact]
    public void Setting_a_module_from_a_later_module_is_out_of_order()
    {
        var tracer = _model.Trace();
        using (tracer.Invoke(Eiffel))
        {
            Block(1).Output[0] = Block(3).Output[0];
        }

        var error = Assert.Throws<OutOfOrderException>(tracer.Dispose);

        Assert.Contains("transformer.h.1.output", error.Message, StringComparison.Ordinal);
        Assert.Contains("transformer.h.3", error.Message, StringComparison.Ordinal);
        AssertModelClean();
    }

    [Fact]
    public void Writing_into_a_module_output_from_a_later_module_is_out_of_order()
    {
        var tracer = _model.Trace();
        using (tracer.Invoke(Eiffel))
        {
            Block(0).Output[0][.., 0] = Block(2).Output[0][.., 0];
        }

        var error = Assert.Throws<OutOfOrderException>(tracer.Dispose);

        Assert.Contains("transformer.h.0.output", error.Message, StringComparison.Ordinal);
        Assert.Contains("transformer.h.2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_set_with_the_wrong_shape_names_the_module_and_both_shapes()
    {
        var tracer = _model.Trace();
        using (tracer.Invoke(Eiffel))
        {
            Block(^1).Output[0] = Block(^1).Output[0][.., ..5];
        }

        var error = Assert.Throws<ShapeMismatchException>(tracer.Dispose);

        Assert.Contains("transformer.h.3.output[0]", error.Message, StringComparison.Ordinal);
        Assert.Contains("[1, 10, 64]", error.Message, StringComparison.Ordinal);
        Assert.Contains("[1, 5, 64]", error.Message, StringComparison.Ordinal);
        Assert.Contains("ExecutionTests.cs:", error.Message, StringComparison.Ordinal);
        AssertModelClean();
    }

    [Fact]
    public void An_op_that_fails_during_the_run_names_the_op_and_line_and_leaves_the_model_clean()
    {
        using var wrong = ones(3, 3);
        var tracer = _model.Trace();
        using (tracer.Invoke(Eiffel))
        {
            Block(0).Output[0].matmul(wrong).Save();
        }

        var error = Assert.Throws<InterventionException>(tracer.Dispose);

        Assert.Contains("matmul(transformer.h.0.output[0], tensor[3, 3]) failed", error.Message, StringComparison.Ordinal);
        AssertModelClean();
    }

    [Fact]
    public void An_exception_inside_the_blocks_runs_nothing()
    {
        TensorProxy? hidden = null;
        var applied = false;
        void Record()
        {
            using var tracer = _model.Trace();
            using var invoker = tracer.Invoke(Eiffel);
            hidden = Block(^1).Output[0].Apply(tensor => { applied = true; return tensor; }).Save();
            throw new InvalidOperationException("user code failed");
        }

        Assert.Throws<InvalidOperationException>(Record);

        Assert.False(applied);
        Assert.Throws<ValueNotReadyException>(() => hidden!.Value);
        AssertModelClean();
        using var next = _model.Trace();
    }

    [Fact]
    public void Module_access_outside_an_invoke_block_is_refused()
    {
        using var tracer = _model.Trace();

        var error = Assert.Throws<TracingException>(() => Block(0).Output);

        Assert.Contains("transformer.h.0.output was used outside an Invoke block", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void After_a_run_only_the_saved_values_and_the_output_are_alive_graph_constants_included()
    {
        using var bias = ones(64);
        var statistics = DisposeScopeManager.Statistics;
        var before = statistics.ThreadTotalLiveCount;
        Tensor output;
        TensorProxy[] saved;
        using (var tracer = _model.Trace())
        {
            using (tracer.Invoke(Eiffel))
            {
                saved = [Block(0).Output[0].Save(), Block(2).Output[0].softmax(-1).sum().Save(), _model.Envoy("lm_head").Output[.., ^1].Save()];
                var unused = (Block(1).Output[0] * 2 + bias).mean(1);
                Block(2).Output[0][.., 0] = bias;
            }
            tracer.Dispose();
            output = tracer.Output;
        }

        Assert.Equal(before + saved.Length + 1, statistics.ThreadTotalLiveCount);
        foreach (var proxy in saved)
        {
            proxy.Value.Dispose();
        }
        output.Dispose();
        Assert.Equal(before, statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Saved_values_stay_valid_after_the_context_and_later_runs()
    {
        var scenario = Reference.Scenario("01_trace_save");
        TensorProxy hidden;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            hidden = Block(^1).Output[0].Save();
        }
        using (var tracer = _model.Trace())
        using (tracer.Invoke(IoiClean))
        {
            Block(^1).Output[0] = Block(^1).Output[0] * 0;
        }

        scenario.Expect("hidden", hidden.Value);
        Assert.Same(hidden.Value, hidden.Value);
    }

    [Fact]
    public void A_multi_invocation_trace_equals_single_invocation_traces_at_real_positions()
    {
        TensorProxy shortAlone, longAlone, shortBatched, longBatched;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            shortAlone = Block(2).Output[0].Save();
        }
        using (var tracer = _model.Trace())
        using (tracer.Invoke(IoiClean))
        {
            longAlone = Block(2).Output[0].Save();
        }
        using (var tracer = _model.Trace())
        {
            using (tracer.Invoke(IoiClean))
            {
                longBatched = Block(2).Output[0].Save();
            }
            using (tracer.Invoke(Eiffel))
            {
                shortBatched = Block(2).Output[0].Token[..].Save();
                Assert.Equal([1L, 14L, 64L], Block(2).Output[0].shape);
            }
        }

        TensorAssert.Close(longAlone.Value, longBatched.Value, 1e-5, 1e-6, "unpadded row");
        TensorAssert.Close(shortAlone.Value, shortBatched.Value, 1e-5, 1e-6, "padded row at its real positions");
    }

    [Fact]
    public void Several_prompts_in_one_invocation_are_its_rows()
    {
        TensorProxy rows;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel, IoiClean))
        {
            rows = Block(0).Output[0].Save();
            Assert.Equal([2L, 14L, 64L], rows.shape);
        }

        Assert.Equal([2L, 14L, 64L], rows.Value.shape);
    }

    [Fact]
    public void Token_ids_and_tensors_are_inputs_as_given()
    {
        var ids = Reference.Prompts["eiffel"].Ids;
        TensorProxy fromArray, fromTensor;
        using (var tracer = _model.Trace())
        {
            using (tracer.Invoke(ids))
            {
                fromArray = Block(^1).Output[0].Save();
            }
            using var idsTensor = tensor(ids).unsqueeze(0);
            using var mask = ones_like(idsTensor);
            using (tracer.Invoke(idsTensor, mask))
            {
                fromTensor = Block(^1).Output[0].Save();
            }
        }

        Reference.Scenario("01_trace_save").Expect("hidden", fromArray.Value);
        Reference.Scenario("01_trace_save").Expect("hidden", fromTensor.Value);
    }

    [Fact]
    public void Input_is_the_first_argument_and_setting_it_changes_the_module()
    {
        TensorProxy input, dropOutput, doubled, expected;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            dropOutput = _model.Envoy("transformer.drop").Output.Save();
            input = Block(0).Input.Save();
            Assert.Equal([1L, 1L, 1L, 10L], Block(0).Inputs[2].shape);
            expected = (_model.Envoy("transformer.ln_f").Input * 2).Save();
        }
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            _model.Envoy("transformer.ln_f").Input = _model.Envoy("transformer.ln_f").Input * 2;
            doubled = _model.Envoy("transformer.ln_f").Input.Save();
        }

        TensorAssert.Close(dropOutput.Value, input.Value, 0, 0, "h.0 input is the dropout output");
        TensorAssert.Close(expected.Value, doubled.Value, 0, 0, "a read after the set sees the set value");
    }

    [Fact]
    public void A_whole_tuple_output_can_be_set_from_another_module()
    {
        TensorProxy block0, block2Input;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            block0 = Block(0).Output[0].Save();
            Block(1).Output = Block(0).Output;
            block2Input = Block(2).Input.Save();
        }

        TensorAssert.Close(block0.Value, block2Input.Value, 0, 0, "block 2 sees block 0's output");
    }

    [Fact]
    public void Apply_runs_local_code_under_no_grad()
    {
        TensorProxy doubled, hidden;
        var gradEnabled = true;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            hidden = Block(^1).Output[0].Save();
            doubled = Block(^1).Output[0].Apply(tensor =>
            {
                gradEnabled = is_grad_enabled();
                return tensor * 2;
            }).Save();
        }

        Assert.False(gradEnabled);
        TensorAssert.Close(hidden.Value * 2, doubled.Value, 0, 0, "Apply");
    }

    [Fact]
    public void The_lambda_forms_run_like_the_using_forms()
    {
        TensorProxy? first = null;
        TensorProxy? last = null;
        _model.Trace(tracer => tracer.Invoke(Eiffel, () => first = Block(^1).Output[0].Save()));
        _model.Generate(generator => generator.Invoke(Eiffel, () => last = _model.Envoy("lm_head").Output.Save()), maxNewTokens: 1);

        Reference.Scenario("01_trace_save").Expect("hidden", first!.Value);
        Reference.Scenario("01_trace_save").Expect("logits", last!.Value);
    }

    [Fact]
    public void Numbers_and_plain_tensors_assign_into_proxies_and_module_values()
    {
        using var steering = full(10, 64, 0.5f);
        TensorProxy zeroed, steered, embeddings;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            var hidden = Block(0).Output[0];
            hidden[.., 0] = 0;
            hidden[.., 1] = steering[0];
            zeroed = hidden.Save();
            Block(1).Output[0] = steering.unsqueeze(0);
            steered = Block(1).Output[0].Save();
            _model.Envoy("transformer.wte").Output = zeros(1, 10, 64);
            embeddings = _model.Envoy("transformer.wte").Output.Save();
        }

        using var firstRow = zeroed.Value[0, 0];
        using var secondRow = zeroed.Value[0, 1];
        Assert.Equal(0.0, firstRow.abs().max().item<float>());
        TensorAssert.Close(steering[0], secondRow, 0, 0, "a tensor assigned into a slice");
        TensorAssert.Close(steering.unsqueeze(0), steered.Value, 0, 0, "a tensor assigned to a module's output element");
        Assert.Equal(0.0, embeddings.Value.abs().max().item<float>());
    }

    [Fact]
    public void A_converted_number_is_not_a_proxy_of_the_trace()
    {
        TensorProxy constant = 2.0;

        var error = Assert.Throws<TracingException>(() => constant.Save());

        Assert.Contains("can only be assigned or passed to an operation", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_trace_output_is_the_logits_of_the_whole_batch()
    {
        var tracer = _model.Trace();
        using (tracer)
        using (tracer.Invoke(Eiffel))
        {
        }

        Reference.Scenario("01_trace_save").Expect("logits", tracer.Output);
    }

    private void AssertModelClean()
    {
        HookAssert.NoHooks(_model.Module);
        using var batch = _model.Tokenize([Eiffel]);
        using var output = _model.Forward(batch);
        Reference.Scenario("01_trace_save").Expect("logits", output.Logits);
    }
}
