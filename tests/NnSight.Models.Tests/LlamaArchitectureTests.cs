using NnSight.Models.Configuration;
using NnSight.Models.Generation;
using NnSight.Models.Llama;
using NnSight.Models.Loading;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Models.Tests;

/// <summary>The Llama family's configs, rotary scaling, variants (Mistral, Qwen2, tied heads) and loading paths.</summary>
public sealed class LlamaArchitectureTests(TinyLlamaFixture fixture) : IClassFixture<TinyLlamaFixture>, IDisposable
{
    private static readonly long[] Prompt = ReferenceIndex.Llama.Prompts["p10"].Ids;
    private readonly CheckpointVariants _variants = new(RepositoryPaths.TinyLlama);
    private readonly TemporaryFolder _folder = new();

    public void Dispose()
    {
        _variants.Dispose();
        _folder.Dispose();
    }

    private static LlamaConfig Tiny => new()
    {
        HiddenSize = 16,
        IntermediateSize = 24,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        VocabSize = 32,
        MaxPositionEmbeddings = 128,
    };

    [Fact]
    public void The_published_llama_3_1_config_reads_grouped_heads_and_llama3_scaling()
    {
        var config = Assert.IsType<LlamaConfig>(ConfigReader.Read(Path.Combine(RepositoryPaths.Configs, "llama-3.1-8b.json")));

        Assert.Equal((32, 4096, 32, 8, 128), (config.NumHiddenLayers, config.HiddenSize, config.NumAttentionHeads, config.ResolvedKeyValueHeads, config.ResolvedHeadDim));
        Assert.Equal(500000.0, config.RopeTheta);
        Assert.Equal(("llama3", 8.0, 1.0, 4.0, 8192), (config.RopeScaling!.Kind, config.RopeScaling.Factor, config.RopeScaling.LowFreqFactor, config.RopeScaling.HighFreqFactor, config.RopeScaling.OriginalMaxPositionEmbeddings));
        Assert.False(config.TieWordEmbeddings);
        Assert.Equal([128001], config.EosTokenId);
        Assert.Null(config.MaxPositions);
    }

    [Fact]
    public void The_published_qwen2_5_config_reads_biases_tied_head_and_no_window()
    {
        var config = Assert.IsType<Qwen2Config>(ConfigReader.Read(Path.Combine(RepositoryPaths.Configs, "qwen2.5-0.5b.json")));

        Assert.Equal((24, 896, 14, 2, 64), (config.NumHiddenLayers, config.HiddenSize, config.NumAttentionHeads, config.ResolvedKeyValueHeads, config.ResolvedHeadDim));
        Assert.True(config.QueryKeyValueBias);
        Assert.False(config.OutputProjectionBias);
        Assert.True(config.TieWordEmbeddings);
        Assert.Null(config.SlidingWindowSize);
        Assert.Equal(1e6, config.RopeTheta);
    }

    [Fact]
    public void Absent_keys_take_huggingface_defaults_per_family()
    {
        var llama = new LlamaConfig();
        var mistral = new MistralConfig();
        var qwen2 = new Qwen2Config();

        Assert.Equal((32, 128, 1e-6, false), (llama.ResolvedKeyValueHeads, llama.ResolvedHeadDim, llama.RmsNormEps, llama.TieWordEmbeddings));
        Assert.Equal((8, 4096, 14336), (mistral.ResolvedKeyValueHeads, mistral.SlidingWindowSize, mistral.IntermediateSize));
        Assert.Equal((151936, 32768, false), (qwen2.VocabSize, qwen2.MaxPositionEmbeddings, qwen2.UseSlidingWindow));
    }

    [Fact]
    public void Default_rotary_frequencies_are_powers_of_theta()
    {
        double[] expected = [1.0, 0.31622776601683794, 0.1, 0.03162277660168379, 0.01, 0.0031622776601683794, 0.001, 0.00031622776601683794];

        AssertFrequencies(expected, new LlamaRotaryEmbedding(Tiny with { HiddenSize = 64 }).InverseFrequencies(10));
    }

    [Fact]
    public void Linear_scaling_divides_every_frequency_by_the_factor()
    {
        var config = Tiny with { HiddenSize = 64, RopeScaling = new RopeScaling { Type = "linear", Factor = 4.0 } };
        double[] expected = [0.25, 0.07905694150420949, 0.025, 0.007905694150420948, 0.0025, 0.0007905694150420948, 0.00025, 7.905694150420948e-05];

        AssertFrequencies(expected, new LlamaRotaryEmbedding(config).InverseFrequencies(10));
    }

    [Fact]
    public void Dynamic_scaling_raises_the_base_only_past_max_position_embeddings()
    {
        var config = Tiny with { HiddenSize = 64, RopeScaling = new RopeScaling { Type = "dynamic", Factor = 2.0 } };
        var rotary = new LlamaRotaryEmbedding(config);
        double[] unscaled = [1.0, 0.31622776601683794, 0.1, 0.03162277660168379, 0.01, 0.0031622776601683794, 0.001, 0.00031622776601683794];
        double[] at256 = [1.0, 0.27029612569240363, 0.07305999556432365, 0.019747833744140873, 0.005337762951858991, 0.001442776645751933, 0.000389976937586229, 0.00010540925533894597];

        AssertFrequencies(unscaled, rotary.InverseFrequencies(128));
        AssertFrequencies(at256, rotary.InverseFrequencies(256));
    }

    [Fact]
    public void Llama3_scaling_keeps_short_wavelengths_divides_long_ones_and_blends_between()
    {
        var scaling = new RopeScaling { RopeType = "llama3", Factor = 8.0, LowFreqFactor = 1.0, HighFreqFactor = 4.0, OriginalMaxPositionEmbeddings = 32 };
        double[] expected = [1.0, 0.09583998588296266, 0.0125, 0.003952847075210474, 0.00125, 0.0003952847075210474, 0.000125, 3.952847075210474e-05];

        AssertFrequencies(expected, new LlamaRotaryEmbedding(Tiny with { HiddenSize = 64, RopeScaling = scaling }).InverseFrequencies(10));
    }

    [Fact]
    public void Rotary_cos_and_sin_are_taken_at_each_rows_position_ids_in_both_halves()
    {
        var rotary = new LlamaRotaryEmbedding(Tiny with { HiddenSize = 64 });
        using var values = zeros(2, 2, 3, 16);
        using var positionIds = tensor(new long[] { 1, 1, 0, 0, 1, 2 }).view(2, 3);

        var (cos, sin) = rotary.call(values, positionIds);

        Assert.Equal([2L, 3L, 16L], cos.shape);
        Assert.Equal(Math.Cos(2 * 0.1), cos[1, 2, 2].item<float>(), 6);
        Assert.Equal(Math.Cos(2 * 0.1), cos[1, 2, 10].item<float>(), 6);
        Assert.Equal(Math.Sin(1 * 0.31622776601683794), sin[0, 0, 9].item<float>(), 6);
        Assert.Equal(0f, sin[0, 2, 3].item<float>());
        cos.Dispose();
        sin.Dispose();
    }

    [Theory]
    [InlineData("""{"rope_type": "yarn", "factor": 4.0}""", "rope_scaling.rope_type", "rope_scaling.rope_type = \"yarn\" is not supported by the Llama implementation (supported: default, linear, dynamic, llama3)")]
    [InlineData("""{"type": "su", "factor": 4.0}""", "rope_scaling.type", "rope_scaling.type = \"su\" is not supported")]
    [InlineData("""{"type": "linear"}""", "rope_scaling.factor", "rope_scaling.factor = null is missing; linear scaling needs a value of at least 1")]
    [InlineData("""{"rope_type": "llama3", "factor": 8.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}""", "rope_scaling.low_freq_factor", "rope_scaling.low_freq_factor = null is missing")]
    public void Unsupported_or_incomplete_rope_scaling_names_the_key(string scaling, string key, string message)
    {
        var error = Assert.Throws<ConfigException>(() => ReadTinyLlamaWith("\"rope_scaling\": null", $"\"rope_scaling\": {scaling}"));

        Assert.Equal(key, error.Key);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Query_heads_that_do_not_share_key_value_heads_evenly_are_an_error()
    {
        var error = Assert.Throws<ConfigException>(() => ReadTinyLlamaWith("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"));

        Assert.Equal("num_key_value_heads", error.Key);
        Assert.Contains("num_attention_heads = 4 is not a multiple of num_key_value_heads = 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mistral_refuses_a_sequence_longer_than_its_sliding_window()
    {
        using var model = new LanguageModel(new LlamaForCausalLM(new MistralConfig
        {
            HiddenSize = 16, IntermediateSize = 24, NumHiddenLayers = 1, NumAttentionHeads = 4, NumKeyValueHeads = 2, VocabSize = 32, SlidingWindow = 8,
        }));
        using var fits = model.Batch([[1L, 2, 3, 4, 5, 6, 7, 8]]);
        using var tooLong = model.Batch([[1L, 2, 3, 4, 5, 6, 7, 8, 9]]);

        using (var output = model.Forward(fits))
        {
            Assert.Equal([1L, 8L, 32L], output.Logits.shape);
        }
        var forwardError = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(tooLong));
        Assert.Contains("the sequence has 9 positions, past sliding_window = 8 (config.json)", forwardError.Message, StringComparison.Ordinal);
        var generationError = Assert.Throws<ArgumentOutOfRangeException>(() => model.GenerateIds(fits, new GenerationOptions { MaxNewTokens = 1 }));
        Assert.Contains("9 positions, past this model's 8 (config.json sliding_window)", generationError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Qwen2_has_query_key_value_biases_and_its_own_class_names()
    {
        using var model = new LanguageModel(new LlamaForCausalLM(new Qwen2Config
        {
            HiddenSize = 16, IntermediateSize = 24, NumHiddenLayers = 1, NumAttentionHeads = 4, NumKeyValueHeads = 2, VocabSize = 32,
        }));
        var keys = model.Module.state_dict().Keys.Where(key => key.StartsWith("model.layers.0.self_attn.", StringComparison.Ordinal)).Order(StringComparer.Ordinal);

        Assert.Equal(
            [
                "model.layers.0.self_attn.k_proj.bias", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.o_proj.weight",
                "model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.v_proj.bias",
                "model.layers.0.self_attn.v_proj.weight",
            ], keys);
        Assert.StartsWith("Qwen2ForCausalLM(\n  (model): Qwen2Model(", model.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_plain_tiny_llama_has_exactly_the_huggingface_state_dict_keys()
    {
        var expected = _variants.Tensors.Select(pair => pair.Key).Order(StringComparer.Ordinal);

        Assert.Equal(expected, fixture.Plain.Module.state_dict().Keys.Order(StringComparer.Ordinal));
        Assert.Equal(55, fixture.Bias.Module.state_dict().Count);
    }

    [Fact]
    public void A_tied_llama_loads_without_lm_head_and_shares_the_embedding()
    {
        var config = File.ReadAllText(Path.Combine(RepositoryPaths.TinyLlama, "config.json")).Replace("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true", StringComparison.Ordinal);
        var folder = _variants.Folder("tied", _variants.Tensors.Where(pair => pair.Key != "lm_head.weight"), config);

        using var model = LanguageModel.FromPretrained(folder);

        var parameters = model.Module.state_dict();
        using (no_grad())
        {
            parameters["model.embed_tokens.weight"].add_(1.0);
        }
        using var expected = _variants.Tensors.Single(pair => pair.Key == "model.embed_tokens.weight").Value + 1.0;
        TensorAssert.Equal(expected, parameters["lm_head.weight"], "lm_head.weight after changing the embedding");
    }

    [Fact]
    public void A_sharded_llama_checkpoint_with_old_rotary_buffers_gives_the_same_logits()
    {
        using var inverse = ones(8);
        var withBuffers = _variants.Tensors.Append(new("model.layers.0.self_attn.rotary_emb.inv_freq", inverse)).ToList();
        var folder = _variants.Folder("buffers", withBuffers);
        using var fromBuffers = LanguageModel.FromPretrained(folder);
        using var sharded = LanguageModel.FromPretrained(_variants.Sharded("sharded", shards: 3));

        using var batch = fixture.Plain.Batch([Prompt]);
        using var expected = fixture.Plain.Forward(batch);
        using var fromShards = sharded.Forward(batch);
        using var fromBufferFolder = fromBuffers.Forward(batch);
        TensorAssert.Equal(expected.Logits, fromShards.Logits, "sharded logits");
        TensorAssert.Equal(expected.Logits, fromBufferFolder.Logits, "logits with an ignored inv_freq buffer");
    }

    [Fact]
    public void A_bfloat16_llama_keeps_the_norm_in_float32_and_predicts_the_same_next_token()
    {
        using var model = LanguageModel.FromPretrained(RepositoryPaths.TinyLlama, dtype: ScalarType.BFloat16);
        using var batch = model.Batch([Prompt]);

        using var output = model.Forward(batch);

        Assert.Equal(ScalarType.BFloat16, output.Logits.dtype);
        Assert.Equal(501L, output.Logits[0, -1].argmax().item<long>());
    }

    private static void AssertFrequencies(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * Math.Abs(expected[i]), $"inverse frequency {i}: expected {expected[i]}, got {actual[i]}");
        }
    }

    private PretrainedConfig ReadTinyLlamaWith(string original, string replacement)
    {
        var text = File.ReadAllText(Path.Combine(RepositoryPaths.TinyLlama, "config.json"));
        Assert.Contains(original, text, StringComparison.Ordinal);
        var path = _folder.File("config.json");
        File.WriteAllText(path, text.Replace(original, replacement, StringComparison.Ordinal));
        return ConfigReader.Read(path);
    }
}
