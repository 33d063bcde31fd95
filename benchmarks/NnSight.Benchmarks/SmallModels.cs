using NnSight.Models.Gpt2;
using NnSight.Models.Llama;
using NnSight.Models.Modules;

namespace NnSight.Benchmarks;

/// <summary>The two realistic sizes the benchmarks compare, with libtorch's default initialisation.</summary>
internal static class SmallModels
{
    /// <param name="architecture"><c>GPT-2</c> (GPT-2-small) or <c>Llama</c> (<see cref="Llama125M"/>).</param>
    /// <param name="maxPositions">The Llama's longest sequence.</param>
    public static CausalLanguageModel Create(string architecture, int maxPositions = 1024) =>
        architecture == "GPT-2" ? new GPT2LMHeadModel(new GPT2Config()) : new LlamaForCausalLM(Llama125M(maxPositions));

    /// <summary>Llama-125M: 12 × 768, 12/4 heads, SwiGLU 2048, vocabulary 32000.</summary>
    public static LlamaConfig Llama125M(int maxPositions = 1024) => new()
    {
        HiddenSize = 768, IntermediateSize = 2048, NumHiddenLayers = 12, NumAttentionHeads = 12, NumKeyValueHeads = 4,
        VocabSize = 32000, MaxPositionEmbeddings = maxPositions,
    };
}
