using NnSight.TestSupport;

namespace NnSight.EndToEnd.Tests;

/// <summary>The generated classes: loading, the structural check, documentation-level facts of the tree.</summary>
public sealed class TypedModelTests
{
    [Fact]
    public void The_typed_tree_mirrors_the_config()
    {
        using var model = TinyGpt2.FromPretrained(RepositoryPaths.TinyGpt2);

        Assert.Equal(4, model.Transformer.H.Count);
        Assert.Equal("transformer.h.3.mlp.c_fc", model.Transformer.H[^1].Mlp.CFc.Path);
        Assert.Equal("lm_head", model.LmHead.Path);
        Assert.NotNull(model.Tokenizer);
    }

    [Fact]
    public void Loading_a_folder_of_another_size_names_the_key_and_both_values()
    {
        var error = Assert.Throws<ConfigMismatchException>(() => Gpt2.FromPretrained(RepositoryPaths.TinyGpt2));

        Assert.Equal("n_layer", error.Key);
        Assert.Equal(12, error.Expected);
        Assert.Equal(4, error.Actual);
        Assert.Contains("n_layer is 4, but Gpt2 was generated from models/gpt2/config.json with n_layer = 12", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_typed_llama_compiles_and_says_its_architecture_is_not_implemented_yet()
    {
        var error = Assert.Throws<NotSupportedException>(() => TinyLlama.FromPretrained(Path.Combine(RepositoryPaths.Root, "models", "tiny-llama")));

        Assert.Contains("TinyLlama is typed from a llama config, but NnSight.Models does not implement the llama architecture yet", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Typed_outputs_name_their_elements_and_know_their_shapes()
    {
        using var model = TinyGpt2.FromPretrained(RepositoryPaths.TinyGpt2);
        using var tracer = model.Trace();
        using var invoker = tracer.Invoke("The Eiffel Tower is in the city of");

        Assert.Equal([1L, 10L, 64L], model.Transformer.H[^1].Output.HiddenStates.shape);
        Assert.Equal([1L, 4L, 10L, 16L], model.Transformer.H[0].Attn.Output.Present[0].shape);
        Assert.Equal([1L, 10L, 50257L], model.Output.Logits.shape);
        Assert.Equal([1L, 10L, 64L], model.Transformer.Output.LastHiddenState.shape);
    }
}
