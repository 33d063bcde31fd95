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
    public void A_typed_alias_carries_the_line_of_the_users_statement_not_of_the_generated_code()
    {
        using var model = TinyGpt2.FromPretrained(RepositoryPaths.TinyGpt2);
        using var tracer = model.Trace();
        using var invoker = tracer.Invoke("The Eiffel Tower is in the city of");
        var block = model.Transformer.H[1];

        var hidden = block.Output.HiddenStates.Save(); var line = Line();

#pragma warning disable NNS0102 // the runtime's own error is what this test reads
        var error = Assert.Throws<ValueNotReadyException>(() => hidden.Value);
#pragma warning restore NNS0102
        Assert.StartsWith($"{nameof(TypedModelTests)}.cs:{line}: transformer.h.1.output[0] is not ready", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Loading_a_folder_of_another_size_names_the_key_and_both_values()
    {
        var error = Assert.Throws<ConfigMismatchException>(() => Gpt2.FromPretrained(RepositoryPaths.TinyGpt2));

        Assert.Equal("n_layer", error.Key);
        Assert.Equal("12", error.Expected);
        Assert.Equal("4", error.Actual);
        Assert.Contains("n_layer is 4, but Gpt2 was generated from models/gpt2/config.json with n_layer = 12", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Loading_a_folder_of_another_architecture_names_model_type_first()
    {
        var error = Assert.Throws<ConfigMismatchException>(() => Gpt2.FromPretrained(RepositoryPaths.TinyLlama));

        Assert.Equal("model_type", error.Key);
        Assert.Equal("gpt2", error.Expected);
        Assert.Equal("llama", error.Actual);
        Assert.Contains("model_type is llama, but Gpt2 was generated from models/gpt2/config.json with model_type gpt2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_typed_config_needs_no_cast()
    {
        using var model = TinyGpt2.FromPretrained(RepositoryPaths.TinyGpt2);
        using var llama = TinyLlama.FromPretrained(RepositoryPaths.TinyLlama);

        Assert.Equal(4, model.Config.NHead);
        Assert.Equal(2, llama.Config.NumKeyValueHeads);
    }

    [Fact]
    public void A_typed_class_of_an_architecture_not_implemented_yet_compiles_and_says_so_on_load()
    {
        var error = Assert.Throws<ConfigException>(() => Phi2.FromPretrained(RepositoryPaths.TinyLlama));

        Assert.Equal("model_type", error.Key);
        Assert.Contains("Phi2 is typed from a phi config, but NnSight.Models does not implement the phi architecture yet", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_typed_llama_tree_mirrors_the_config_and_knows_its_shapes()
    {
        using var model = TinyLlama.FromPretrained(RepositoryPaths.TinyLlama);
        using var tracer = model.Trace();
        using var invoker = tracer.Invoke([366L, 95, 138, 5, 366, 6, 345, 458, 98, 61]);

        Assert.Equal(4, model.Model.Layers.Count);
        Assert.Equal("model.layers.3.self_attn.k_proj", model.Model.Layers[^1].SelfAttn.KProj.Path);
        Assert.Equal([1L, 10L, 64L], model.Model.Layers[^1].Output.HiddenStates.shape);
        Assert.Equal([1L, 10L, 32L], model.Model.Layers[0].SelfAttn.KProj.Output.shape);
        Assert.Equal([1L, 4L, 10L, 10L], model.Model.Layers[0].SelfAttn.Output.Weights.shape);
        Assert.Equal([1L, 2L, 10L, 16L], model.Model.Layers[0].SelfAttn.Output.Present[0].shape);
        Assert.Equal([1L, 10L, 16L], model.Model.Layers[0].SelfAttn.RotaryEmb.Output.Cos.shape);
        Assert.Equal([1L, 10L, 176L], model.Model.Layers[0].Mlp.ActFn.Output.shape);
        Assert.Equal([1L, 10L, 512L], model.Output.Logits.shape);
    }

    [Fact]
    public void A_llama_folder_without_tokenizer_files_takes_ids_and_refuses_text_clearly()
    {
        using var model = TinyLlama.FromPretrained(RepositoryPaths.TinyLlama);

        Assert.Null(model.Tokenizer);
        using var tracer = model.Trace();
        var error = Assert.Throws<ConfigException>(() => tracer.Invoke("The Eiffel Tower is in the city of"));
        Assert.Equal("This llama model has no tokenizer (its folder has no tokenizer.json, tokenizer.model or vocab.json + merges.txt): pass token ids instead of text.", error.Message);
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

    private static int Line([System.Runtime.CompilerServices.CallerLineNumber] int line = 0) => line;
}
