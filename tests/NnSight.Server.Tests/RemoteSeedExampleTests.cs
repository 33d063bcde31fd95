using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Server.Tests;

/// <summary>
/// Every seed example run on the server gives the values it gives locally, bit for bit: the test server runs libtorch
/// with this process's thread count (<see cref="ServerProcess"/>).
/// </summary>
public sealed class RemoteSeedExampleTests(TinyGpt2Fixture fixture, ServerProcess server)
    : IClassFixture<TinyGpt2Fixture>, IClassFixture<ServerProcess>
{
    private const string Eiffel = "The Eiffel Tower is in the city of";
    private readonly LanguageModel _model = fixture.Model;

    private Envoy Block(Index index) => _model.Envoy("transformer.h")[index];

    [Fact]
    public void Example1_saving_while_generating() => Same(remote => Generate(remote, 1, () => [Block(^1).Output[0].Save()]));

    [Fact]
    public void Example2_operations() => Same(remote => Trace(remote, () =>
    {
        var pre = Block(^1).Output[0].Save();
        var sum = pre.sum().Save();
        return [pre, sum, (pre + sum).Save()];
    }));

    [Fact]
    public void Example3_setting_with_a_tensor_constant() => Same(remote => Trace(remote, () =>
    {
        using var generator = new Generator(3);
        var noise = Math.Sqrt(0.001) * randn(Block(^1).Output[0].shape, generator: generator);
        Block(^1).Output[0] = Block(^1).Output[0] + noise;
        return [_model.Envoy("lm_head").Output.Save()];
    }));

    [Fact]
    public void Example4_next() => Same(remote =>
    {
        var saved = new List<TensorProxy>();
        var generator = remote ? _model.Generate(3, null, server.Settings()) : _model.Generate(3);
        using (generator)
        using (var invoker = generator.Invoke(Eiffel))
        {
            saved.Add(Block(^1).Output[0].Save());
            invoker.Next();
            saved.Add(Block(^1).Output[0].Save());
            invoker.Next();
            saved.Add(Block(^1).Output[0].Save());
        }
        return [.. saved.Select(proxy => proxy.Value), generator.Output];
    });

    [Fact]
    public void Example5_token_indexing() => Same(remote => Trace(remote, () => [Block(^1).Output[0].Token[0].Save(), Block(^1).Output[0].Token[^1].Save()]));

    [Fact]
    public void Example6_cross_prompt() => Same(remote =>
    {
        var swap = remote ? _model.Generate(3, null, server.Settings()) : _model.Generate(3);
        using (swap)
        {
            TensorProxy embeddings;
            using (swap.Invoke("Madison square garden is located in the city of New"))
            {
                embeddings = _model.Envoy("transformer.wte").Output;
            }
            using (swap.Invoke("_ _ _ _ _ _ _ _ _ _"))
            {
                _model.Envoy("transformer.wte").Output = embeddings;
            }
        }
        return [swap.Output];
    });

    [Fact]
    public void Example7_logit_lens() => Same(remote => Trace(remote, () =>
    {
        var logits = _model.Envoy("lm_head").Call(_model.Envoy("transformer.ln_f").Call(Block(^1).Output[0])).Save();
        return [logits, logits.softmax(2).argmax(2).Save()];
    }));

    [Fact]
    public void Example8_patching() => Same(remote =>
    {
        TensorProxy patched;
        var tracer = remote ? _model.Trace(server.Settings()) : _model.Trace();
        using (tracer)
        {
            TensorProxy clean;
            using (tracer.Invoke("When John and Mary went to the shops, John gave the bag to"))
            {
                clean = Block(2).Output[0];
            }
            using (tracer.Invoke("When John and Mary went to the shops, Mary gave the bag to"))
            {
                Block(2).Output[0][.., 13] = clean[.., 13];
                patched = _model.Envoy("lm_head").Output[.., ^1].Save();
            }
        }
        return [patched.Value, tracer.Output];
    });

    private List<Tensor> Trace(bool remote, Func<List<TensorProxy>> body)
    {
        List<TensorProxy> saved;
        var tracer = remote ? _model.Trace(server.Settings()) : _model.Trace();
        using (tracer)
        using (tracer.Invoke(Eiffel))
        {
            saved = body();
        }
        return [.. saved.Select(proxy => proxy.Value), tracer.Output];
    }

    private List<Tensor> Generate(bool remote, int tokens, Func<List<TensorProxy>> body)
    {
        List<TensorProxy> saved;
        var generator = remote ? _model.Generate(tokens, null, server.Settings()) : _model.Generate(tokens);
        using (generator)
        using (generator.Invoke(Eiffel))
        {
            saved = body();
        }
        return [.. saved.Select(proxy => proxy.Value), generator.Output];
    }

    private static void Same(Func<bool, List<Tensor>> run)
    {
        var local = run(false);
        var remote = run(true);
        Assert.Equal(local.Count, remote.Count);
        foreach (var (expected, actual) in local.Zip(remote))
        {
            TensorAssert.Close(expected, actual, 0, 0, "remote vs local");
        }
    }
}
