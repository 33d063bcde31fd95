using NnSight.Models.Gpt2;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Models.Tests;

/// <summary>The GPT-2 attention options HuggingFace's reference does not exercise, checked by their definitions.</summary>
public sealed class AttentionVariantTests
{
    private static readonly GPT2Config Small = new() { NLayer = 2, NEmbd = 32, NHead = 4, NPositions = 16, VocabSize = 64 };

    [Fact]
    public void Reorder_and_upcast_attention_equals_plain_attention_in_float32()
    {
        using var plain = Model(Small);
        using var upcast = Model(Small with { ReorderAndUpcastAttn = true });
        upcast.load_state_dict(plain.state_dict());
        using var ids = arange(10, dtype: ScalarType.Int64).unsqueeze(0);

        using var expected = plain.call(ids, null, null, null, 0);
        using var actual = upcast.call(ids, null, null, null, 0);

        TensorAssert.Close(expected.Logits, actual.Logits, rtol: 1e-5, atol: 1e-6, "upcast logits");
    }

    [Fact]
    public void Inverse_layer_scaling_leaves_the_first_layer_and_changes_the_second()
    {
        using var plain = Model(Small);
        using var scaled = Model(Small with { ScaleAttnByInverseLayerIdx = true });
        scaled.load_state_dict(plain.state_dict());
        using var ids = arange(10, dtype: ScalarType.Int64).unsqueeze(0);

        using var plainOutputs = new ModuleOutputs(plain);
        using var scaledOutputs = new ModuleOutputs(scaled);
        using (plain.call(ids, null, null, null, 0))
        using (scaled.call(ids, null, null, null, 0))
        {
            TensorAssert.Close(plainOutputs["transformer.h.0.attn.attn_dropout"], scaledOutputs["transformer.h.0.attn.attn_dropout"], 0, 0, "layer 0");
            Assert.False(plainOutputs["transformer.h.1.attn.attn_dropout"].allclose(scaledOutputs["transformer.h.1.attn.attn_dropout"]));
        }
    }

    private static GPT2LMHeadModel Model(GPT2Config config, ScalarType dtype = ScalarType.Float32) =>
        SeededWeights.Fill(new GPT2LMHeadModel(config, dtype: dtype), seed: 3);
}
