using NnSight.Models.Configuration;
using NnSight.Models.Gpt2;
using NnSight.TestSupport;

namespace NnSight.Models.Tests;

public sealed class ConfigTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void The_published_gpt2_config_with_crlf_and_no_final_newline_reads_every_key()
    {
        var config = Assert.IsType<GPT2Config>(ConfigReader.Read(Path.Combine(RepositoryPaths.Configs, "gpt2.json")));

        Assert.Equal((12, 768, 12, 1024, 50257), (config.NLayer, config.NEmbd, config.NHead, config.NPositions, config.VocabSize));
        Assert.Equal(1024, config.NCtx);
        Assert.Null(config.NInner);
        Assert.Equal(3072, config.InnerDim);
        Assert.Equal("gelu_new", config.ActivationFunction);
        Assert.Equal(1e-5, config.LayerNormEpsilon);
        Assert.Equal([50256], config.EosTokenId);
        Assert.True(config.OtherKeys!.ContainsKey("task_specific_params"));
    }

    [Fact]
    public void The_tiny_config_reads_its_explicit_nulls_and_flags()
    {
        var config = Assert.IsType<GPT2Config>(ConfigReader.Read(Path.Combine(RepositoryPaths.TinyGpt2, "config.json")));

        Assert.Equal((4, 64, 4, 128), (config.NLayer, config.NEmbd, config.NHead, config.NPositions));
        Assert.False(config.ScaleAttnByInverseLayerIdx);
        Assert.False(config.ReorderAndUpcastAttn);
        Assert.Null(config.SummaryActivation);
    }

    [Fact]
    public void An_unsupported_activation_names_the_key_and_value()
    {
        var error = Assert.Throws<ConfigException>(() => ReadWith("\"activation_function\": \"gelu_new\"", "\"activation_function\": \"swiglu\""));

        Assert.Equal("activation_function", error.Key);
        Assert.Contains("activation_function = \"swiglu\" is not supported by the GPT-2 implementation", error.Message, StringComparison.Ordinal);
        Assert.Contains("gelu_new", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_width_not_divisible_by_the_heads_is_an_error()
    {
        var error = Assert.Throws<ConfigException>(() => ReadWith("\"n_head\": 4", "\"n_head\": 5"));

        Assert.Contains("n_embd = 64 is not divisible by n_head = 5", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cross_attention_is_refused()
    {
        var error = Assert.Throws<ConfigException>(() => ReadWith("\"use_cache\": true", "\"use_cache\": true, \"add_cross_attention\": true"));

        Assert.Equal("add_cross_attention", error.Key);
    }

    [Fact]
    public void A_value_of_the_wrong_type_names_the_key_and_line()
    {
        var error = Assert.Throws<ConfigException>(() => ReadWith("\"n_layer\": 4", "\"n_layer\": \"four\""));

        Assert.Equal("n_layer", error.Key);
        Assert.Contains("the value of n_layer cannot be read (line 16)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_json_gives_line_and_column()
    {
        var error = Assert.Throws<ConfigException>(() => ReadWith("\"n_layer\": 4,", "\"n_layer\": 4,,"));

        Assert.Contains("is not valid JSON (line 16", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unsupported_model_type_lists_the_supported_ones()
    {
        var error = Assert.Throws<ConfigException>(() => ConfigReader.Read(Path.Combine(RepositoryPaths.Configs, "phi-2.json")));

        Assert.Equal("model_type", error.Key);
        Assert.Contains("model_type = \"phi\" is not supported (supported: gpt2, llama, mistral, qwen2)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_model_type_is_an_error()
    {
        var error = Assert.Throws<ConfigException>(() => ReadWith("\"model_type\": \"gpt2\",", ""));

        Assert.Contains("has no model_type", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Eos_and_pad_come_from_generation_config_with_pad_falling_back_to_eos()
    {
        var config = ConfigReader.Read(Path.Combine(RepositoryPaths.TinyGpt2, "config.json"));

        var generation = GenerationConfig.Read(RepositoryPaths.TinyGpt2, config);

        Assert.Equal([50256], generation.EosTokenIds);
        Assert.Equal(50256, generation.PadTokenId);
    }

    private PretrainedConfig ReadWith(string original, string replacement)
    {
        var text = File.ReadAllText(Path.Combine(RepositoryPaths.TinyGpt2, "config.json"));
        Assert.Contains(original, text, StringComparison.Ordinal);
        var path = _folder.File("config.json");
        File.WriteAllText(path, text.Replace(original, replacement, StringComparison.Ordinal));
        return ConfigReader.Read(path);
    }
}
