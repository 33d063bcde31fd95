using NnSight.Models.Gpt2;
using NnSight.Models.Llama;
using NnSight.Models.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Configuration;

/// <summary>The architectures this library implements, by HuggingFace <c>model_type</c>.</summary>
internal static class ModelArchitectures
{
    /// <summary>One architecture: its config record type and how to build its root module.</summary>
    /// <param name="ModelType">The <c>model_type</c> of its config.json.</param>
    /// <param name="ConfigType">The config record <c>config.json</c> is read into.</param>
    /// <param name="Create">Builds the randomly initialised root module on a device with a dtype.</param>
    public sealed record Architecture(string ModelType, Type ConfigType, Func<PretrainedConfig, Device, ScalarType?, CausalLanguageModel> Create);

    private static readonly Architecture[] All =
    [
        new("gpt2", typeof(GPT2Config), (config, device, dtype) => new GPT2LMHeadModel((GPT2Config)config, device, dtype)),
        new("llama", typeof(LlamaConfig), CreateLlama),
        new("mistral", typeof(MistralConfig), CreateLlama),
        new("qwen2", typeof(Qwen2Config), CreateLlama),
    ];

    private static LlamaForCausalLM CreateLlama(PretrainedConfig config, Device device, ScalarType? dtype) =>
        new((LlamaConfig)config, device, dtype);

    /// <summary>Every supported <c>model_type</c>.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = [.. All.Select(architecture => architecture.ModelType)];

    /// <summary>The architecture for <paramref name="modelType"/>, or null when it is not implemented.</summary>
    public static Architecture? Find(string modelType) => All.FirstOrDefault(architecture => architecture.ModelType == modelType);
}
