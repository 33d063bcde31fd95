using NnSight.Models.Gpt2;
using NnSight.Models.Loading;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Models.Tests;

public sealed class LoadingTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>, IDisposable
{
    private readonly CheckpointVariants _variants = new();
    private readonly LanguageModel _model = fixture.Model;

    public void Dispose() => _variants.Dispose();

    [Fact]
    public void State_dict_keys_are_the_huggingface_names_plus_the_tied_lm_head()
    {
        var expected = _variants.Tensors.Select(pair => pair.Key).Append("lm_head.weight").Order(StringComparer.Ordinal);

        var keys = _model.Module.state_dict().Keys.Order(StringComparer.Ordinal);

        Assert.Equal(52, _variants.Tensors.Count);
        Assert.Equal(expected, keys);
    }

    [Fact]
    public void Parameters_equal_the_stored_tensors_with_conv1d_weights_transposed()
    {
        AssertParametersEqual(_model, _variants.Tensors);
    }

    [Fact]
    public void The_lm_head_shares_the_token_embedding_weight()
    {
        using var model = new GPT2LMHeadModel(new GPT2Config { NLayer = 1, NEmbd = 8, NHead = 2, VocabSize = 16, NPositions = 8 });
        var parameters = model.state_dict();

        using (no_grad())
        {
            parameters["transformer.wte.weight"].add_(1.0);
        }

        Assert.True(Identical(parameters["transformer.wte.weight"], parameters["lm_head.weight"]));
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void A_half_precision_checkpoint_loads_as_stored(ScalarType dtype)
    {
        var folder = _variants.Folder(dtype.ToString(), _variants.Converted(dtype));

        using var model = LanguageModel.FromPretrained(folder);

        Assert.Equal(dtype, model.Dtype);
        AssertParametersEqual(model, _variants.Converted(dtype));
        using var batch = model.Tokenize(["The Eiffel Tower is in the city of"]);
        using var output = model.Forward(batch);
        Assert.Equal(dtype, output.Logits.dtype);
        Assert.True(output.Logits.isfinite().all().item<bool>());
    }

    [Fact]
    public void Weights_kept_as_stored_are_copy_on_write_views_of_the_file_and_converted_ones_are_copies()
    {
        var folder = _variants.Folder("mapped", _variants.Converted(ScalarType.BFloat16));
        var weights = Path.Combine(folder, SafetensorsCheckpoint.SingleFileName);
        using var kept = LanguageModel.FromPretrained(folder);
        using var widened = LanguageModel.FromPretrained(folder, dtype: ScalarType.Float32);
        const string name = "transformer.h.0.ln_1.weight";
        var keptNorm = kept.Module.state_dict()[name];
        var widenedNorm = widened.Module.state_dict()[name];
        using var stored = keptNorm.clone();

        // Rewritten in place, the file shows through the kept parameter (a view of the mapped file, no copy) but not
        // through the converted one.
        long offset;
        using (var file = Serialization.SafetensorsFile.Open(weights))
        {
            offset = new FileInfo(weights).Length - file.Tensors.Values.Sum(entry => entry.End - entry.Begin) + file.Tensors[name].Begin;
        }
        using (var stream = new FileStream(weights, FileMode.Open, FileAccess.Write))
        {
            stream.Position = offset;
            using var doubled = (stored * 2).to_type(ScalarType.BFloat16);
            stream.Write(doubled.bytes);
        }
        Assert.True(Identical((stored * 2).to_type(ScalarType.BFloat16), keptNorm));
        Assert.True(Identical(stored.to_type(ScalarType.Float32), widenedNorm));

        // Writing to the parameter copies the page: the file keeps its bytes.
        var before = File.ReadAllBytes(weights);
        using (no_grad())
        {
            keptNorm.add_(1.0);
        }
        Assert.Equal(before, File.ReadAllBytes(weights));
    }

    [Fact]
    public void A_loaded_tied_head_shares_the_loaded_embedding()
    {
        using var model = LanguageModel.FromPretrained(RepositoryPaths.TinyGpt2, dtype: ScalarType.Float64);
        var parameters = model.Module.state_dict();

        using (no_grad())
        {
            parameters["transformer.wte.weight"].add_(1.0);
        }

        Assert.True(Identical(parameters["transformer.wte.weight"], parameters["lm_head.weight"]));
        Assert.DoesNotContain(model.Module.parameters(), parameter => parameter.device_type != TorchSharp.DeviceType.CPU);
    }

    [Fact]
    public void A_requested_dtype_converts_the_stored_weights()
    {
        using var model = LanguageModel.FromPretrained(RepositoryPaths.TinyGpt2, dtype: ScalarType.BFloat16);

        Assert.Equal(ScalarType.BFloat16, model.Dtype);
        using var expected = _variants.Tensors.Single(pair => pair.Key == "transformer.wte.weight").Value.to_type(ScalarType.BFloat16);
        Assert.True(Identical(expected, model.Module.state_dict()["transformer.wte.weight"]));
    }

    [Fact]
    public void A_sharded_checkpoint_loads_the_same_parameters()
    {
        using var model = LanguageModel.FromPretrained(_variants.Sharded("sharded", shards: 3));

        AssertSameParameters(_model, model);
    }

    [Fact]
    public void A_checkpoint_without_the_transformer_prefix_loads_the_same_parameters()
    {
        var unprefixed = _variants.Tensors.Select(pair => new KeyValuePair<string, Tensor>(pair.Key["transformer.".Length..], pair.Value));

        using var model = LanguageModel.FromPretrained(_variants.Folder("unprefixed", unprefixed));

        AssertSameParameters(_model, model);
    }

    [Fact]
    public void Old_causal_mask_buffers_in_a_checkpoint_are_skipped()
    {
        using var bias = ones(1, 1, 128, 128, dtype: ScalarType.Bool).tril();
        using var maskedBias = tensor(-1e4f);
        var withBuffers = _variants.Tensors
            .Append(new("transformer.h.0.attn.bias", bias))
            .Append(new("transformer.h.0.attn.masked_bias", maskedBias));

        using var model = LanguageModel.FromPretrained(_variants.Folder("buffers", withBuffers));

        AssertSameParameters(_model, model);
    }

    [Fact]
    public void A_missing_tensor_is_an_error_naming_it_and_its_shape()
    {
        var missing = _variants.Tensors.Where(pair => pair.Key != "transformer.h.2.mlp.c_fc.bias");

        var error = Assert.Throws<CheckpointException>(() => LanguageModel.FromPretrained(_variants.Folder("missing", missing)));

        Assert.Contains("missing tensor transformer.h.2.mlp.c_fc.bias [256]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unexpected_tensor_is_an_error_naming_it()
    {
        using var extra = zeros(3);
        var unexpected = _variants.Tensors.Append(new("transformer.h.0.attn.q_proj.weight", extra));

        var error = Assert.Throws<CheckpointException>(() => LanguageModel.FromPretrained(_variants.Folder("unexpected", unexpected)));

        Assert.Contains("unexpected tensor transformer.h.0.attn.q_proj.weight [3]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mis_shaped_tensor_is_an_error_naming_both_shapes()
    {
        using var wrong = zeros(192, 64);
        var misShaped = _variants.Tensors.Select(pair =>
            pair.Key == "transformer.h.1.attn.c_attn.weight" ? new KeyValuePair<string, Tensor>(pair.Key, wrong) : pair);

        var error = Assert.Throws<CheckpointException>(() => LanguageModel.FromPretrained(_variants.Folder("misshaped", misShaped)));

        Assert.Contains("tensor transformer.h.1.attn.c_attn.weight has shape [192, 64] in the checkpoint, but the model expects [64, 192] (Conv1D layout [in, out])",
            error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_untied_config_needs_a_stored_lm_head()
    {
        var folder = _variants.Folder("untied", _variants.Tensors);
        var configPath = Path.Combine(folder, "config.json");
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"use_cache\": true", "\"use_cache\": true,\n  \"tie_word_embeddings\": false", StringComparison.Ordinal));

        var error = Assert.Throws<CheckpointException>(() => LanguageModel.FromPretrained(folder));

        Assert.Contains("missing tensor lm_head.weight [50257, 64]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_without_weights_names_the_files_it_looked_for()
    {
        var folder = _variants.Folder("empty", []);
        File.Delete(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName));

        var error = Assert.Throws<CheckpointException>(() => LanguageModel.FromPretrained(folder));

        Assert.Contains("model.safetensors", error.Message, StringComparison.Ordinal);
        Assert.Contains("model.safetensors.index.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cuda_device_without_the_cuda_backend_is_a_clear_error()
    {
        if (cuda.is_available())
        {
            return;
        }

        var error = Assert.Throws<ArgumentException>(() => LanguageModel.FromPretrained(RepositoryPaths.TinyGpt2, "cuda"));

        Assert.Contains("CUDA backend is not available", error.Message, StringComparison.Ordinal);
    }

    private static void AssertParametersEqual(LanguageModel model, IEnumerable<KeyValuePair<string, Tensor>> stored)
    {
        var parameters = model.Module.state_dict();
        foreach (var (name, tensor) in stored)
        {
            var isConv1DWeight = name.EndsWith("c_attn.weight", StringComparison.Ordinal)
                || name.EndsWith("c_proj.weight", StringComparison.Ordinal) || name.EndsWith("c_fc.weight", StringComparison.Ordinal);
            using var expected = isConv1DWeight ? tensor.t() : tensor.alias();
            Assert.Equal(expected.dtype, parameters[name].dtype);
            Assert.True(Identical(expected, parameters[name]), name);
        }
    }

    private static void AssertSameParameters(LanguageModel expected, LanguageModel actual)
    {
        var expectedParameters = expected.Module.state_dict();
        foreach (var (name, parameter) in actual.Module.state_dict())
        {
            Assert.True(Identical(expectedParameters[name], parameter), name);
        }
        Assert.IsType<GPT2LMHeadModel>(actual.Module);
    }

    private static bool Identical(Tensor expected, Tensor actual) =>
        expected.dtype == actual.dtype && expected.shape.SequenceEqual(actual.shape) && expected.eq(actual).all().item<bool>();
}
