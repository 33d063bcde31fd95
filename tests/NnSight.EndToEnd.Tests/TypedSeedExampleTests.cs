using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.EndToEnd.Tests;

/// <summary>nnsight's README examples 1–8 through the typed tree give the same numbers as through untyped envoys.</summary>
public sealed class TypedSeedExampleTests : IDisposable
{
    private const string Eiffel = "The Eiffel Tower is in the city of";
    private readonly TinyGpt2 _model = TinyGpt2.FromPretrained(RepositoryPaths.TinyGpt2, device: "cpu");

    private Envoy Untyped(string path) => _model.Envoy(path);

    public void Dispose() => _model.Dispose();

    [Fact]
    public void Example1_save_while_generating()
    {
        TensorProxy typed, untyped;
        var first = _model.Generate(maxNewTokens: 1);
        using (first)
        using (first.Invoke(Eiffel))
        {
            typed = _model.Transformer.H[^1].Output[0].Save();
        }
        var second = _model.Generate(maxNewTokens: 1);
        using (second)
        using (second.Invoke(Eiffel))
        {
            untyped = Untyped("transformer.h.3").Output[0].Save();
        }

        Same(untyped.Value, typed.Value);
        Same(second.Output, first.Output);
    }

    [Fact]
    public void Example2_operations()
    {
        var (typedSum, typedEdited) = Operations(() => _model.Transformer.H[^1].Output.HiddenStates);
        var (untypedSum, untypedEdited) = Operations(() => Untyped("transformer.h.3").Output[0]);

        Same(untypedSum, typedSum);
        Same(untypedEdited, typedEdited);
    }

    [Fact]
    public void Example3_setting()
    {
        using var noise = full(1, 10, 64, 0.03f);
        var typed = Logits(() => _model.Transformer.H[^1].Output[0] = _model.Transformer.H[^1].Output[0] + noise);
        var untyped = Logits(() => Untyped("transformer.h.3").Output[0] = Untyped("transformer.h.3").Output[0] + noise);

        Same(untyped, typed);
    }

    [Fact]
    public void Example4_next()
    {
        var typed = Steps(() => _model.Transformer.H[^1].Output[0]);
        var untyped = Steps(() => Untyped("transformer.h.3").Output[0]);

        Assert.Equal(3, typed.Count);
        foreach (var (expected, actual) in untyped.Zip(typed))
        {
            Same(expected, actual);
        }
    }

    [Fact]
    public void Example5_token_indexing()
    {
        TensorProxy typed, untyped;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            typed = _model.Transformer.H[^1].Output[0].Token[0].Save();
            untyped = Untyped("transformer.h.3").Output[0].Token[0].Save();
        }

        Same(untyped.Value, typed.Value);
    }

    [Fact]
    public void Example6_cross_prompt()
    {
        var typed = Swap(() => _model.Transformer.Wte.Output, value => _model.Transformer.Wte.Output = value);
        var untyped = Swap(() => Untyped("transformer.wte").Output, value => Untyped("transformer.wte").Output = value);

        Same(untyped, typed);
    }

    [Fact]
    public void Example7_logit_lens()
    {
        TensorProxy typed, untyped;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            typed = _model.LmHead.Call(_model.Transformer.LnF.Call(_model.Transformer.H[^1].Output[0])).softmax(2).argmax(2).Save();
            untyped = Untyped("lm_head").Call(Untyped("transformer.ln_f").Call(Untyped("transformer.h.3").Output[0])).softmax(2).argmax(2).Save();
        }

        Same(untyped.Value, typed.Value);
    }

    [Fact]
    public void Example8_patching()
    {
        var typed = Patch(() => _model.Transformer.H[2].Output, () => _model.LmHead.Output);
        var untyped = Patch(() => new TupleProxy(Untyped("transformer.h.2").Output), () => Untyped("lm_head").Output);

        Same(untyped, typed);
    }

    private (Tensor Sum, Tensor Edited) Operations(Func<TensorProxy> hidden)
    {
        TensorProxy sum, edited;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Eiffel))
        {
            var pre = hidden();
            sum = pre.sum().Save();
            edited = (pre + sum).Save();
        }
        return (sum.Value, edited.Value);
    }

    private Tensor Logits(Action intervene)
    {
        var tracer = _model.Trace();
        using (tracer)
        using (tracer.Invoke(Eiffel))
        {
            intervene();
        }
        return tracer.Output;
    }

    private List<Tensor> Steps(Func<TensorProxy> hidden)
    {
        var saved = new List<TensorProxy>();
        using (var generator = _model.Generate(maxNewTokens: 3))
        using (var invoker = generator.Invoke(Eiffel))
        {
            saved.Add(hidden().Save());
            invoker.Next();
            saved.Add(hidden().Save());
            invoker.Next();
            saved.Add(hidden().Save());
        }
        return [.. saved.Select(proxy => proxy.Value)];
    }

    private Tensor Swap(Func<TensorProxy> read, Action<TensorProxy> write)
    {
        var swap = _model.Generate(maxNewTokens: 3);
        using (swap)
        {
            TensorProxy embeddings;
            using (swap.Invoke("Madison square garden is located in the city of New"))
            {
                embeddings = read();
            }
            using (swap.Invoke("_ _ _ _ _ _ _ _ _ _"))
            {
                write(embeddings);
            }
        }
        return swap.Output;
    }

    private Tensor Patch(Func<TupleProxy> block, Func<TensorProxy> head)
    {
        TensorProxy patched;
        using (var tracer = _model.Trace())
        {
            TensorProxy clean;
            using (tracer.Invoke("When John and Mary went to the shops, John gave the bag to"))
            {
                clean = block()[0];
            }
            using (tracer.Invoke("When John and Mary went to the shops, Mary gave the bag to"))
            {
                block()[0][.., 13] = clean[.., 13];
                patched = head()[.., ^1].Save();
            }
        }
        return patched.Value;
    }

    private static void Same(Tensor expected, Tensor actual) => TensorAssert.Close(expected, actual, 0, 0, "typed vs untyped");
}
