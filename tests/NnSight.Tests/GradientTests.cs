using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary>
/// <c>.Grad</c> and <c>Backward()</c> on the tiny GPT-2 and Llama, against plain TorchSharp autograd written by hand
/// (hooks and <c>retain_grad</c>), central finite differences in float64, and the semantics of setting gradients.
/// </summary>
public sealed class GradientTests(TinyGpt2Fixture gpt2, TinyLlamaFixture llama)
    : IClassFixture<TinyGpt2Fixture>, IClassFixture<TinyLlamaFixture>, IDisposable
{
    private const long Target = 42;
    private const double Rtol = 1e-4, Atol = 1e-6;

    public static TheoryData<string, string[]> Models => new()
    {
        { "gpt2", ["transformer.wte", "transformer.h.1", "transformer.h.3"] },
        { "llama", ["model.embed_tokens", "model.layers.1", "model.layers.3"] },
    };

    private static long[] Prompt(string architecture) => architecture == "gpt2"
        ? ReferenceIndex.Gpt2.Prompts["eiffel"].Ids
        : ReferenceIndex.Llama.Prompts["p10"].Ids;

    private LanguageModel Model(string architecture) => architecture == "gpt2" ? gpt2.Model : llama.Plain;

    private static string Head(string architecture) => "lm_head";

    public void Dispose()
    {
        gpt2.Model.ZeroGrad();
        llama.Plain.ZeroGrad();
    }

    /// <summary>A module's hidden states: element 0 of a block's tuple output, the output itself otherwise.</summary>
    private static TensorProxy Hidden(LanguageModel model, string path) =>
        path.Split('.').Length == 3 ? model.Envoy(path).Output[0] : model.Envoy(path).Output;

    [Theory]
    [MemberData(nameof(Models))]
    public void Grad_equals_plain_autograd_at_the_embedding_a_middle_and_the_last_layer(string architecture, string[] paths)
    {
        var model = Model(architecture);
        var ids = Prompt(architecture);
        var expected = HandGradients.Of(model, ids, logits => logits[0, -1, Target], paths);

        var grads = new Dictionary<string, TensorProxy>();
        using (var tracer = model.Trace())
        using (tracer.Invoke(ids))
        {
            foreach (var path in paths)
            {
                grads[path] = Hidden(model, path).Grad.Save();
            }
            model.Envoy(Head(architecture)).Output[0, ^1, Target].Backward();
        }

        foreach (var path in paths)
        {
            TensorAssert.Close(expected[path], grads[path].Value, Rtol, Atol, $"{architecture} {path}");
        }
    }
}
