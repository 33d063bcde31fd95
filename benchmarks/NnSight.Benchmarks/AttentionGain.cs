using System.Globalization;
using NnSight.Models;
using NnSight.Models.Modules;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// What the fused attention saves: a forward pass of GPT-2 small and of Llama-125M (random weights from a private
/// generator, float32) over 128 and 1,024 tokens with the fused kernel in every layer, against the same pass with every
/// layer eager (<see cref="CausalLanguageModel.EagerAttention"/>), alternately in one process; medians and their ratio.
/// </summary>
internal static class AttentionGain
{
    public static void Run(int rounds)
    {
        Console.WriteLine($"{get_num_threads()} threads, medians of {rounds} alternating runs");
        foreach (var architecture in new[] { "GPT-2", "Llama" })
        {
            using var model = new LanguageModel(Create(architecture));
            foreach (var length in new[] { 128, 1024 })
            {
                using var ids = arange(length, dtype: ScalarType.Int64) * 37 % 30000;
                using var batch = model.Batch([ids.data<long>().ToArray()]);
                var (f, e) = Measure.Alternate(
                    () => { model.Module.EagerAttention = false; model.Forward(batch).Dispose(); },
                    () => { model.Module.EagerAttention = true; model.Forward(batch).Dispose(); }, rounds);
                model.Module.EagerAttention = false;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{architecture,-6} forward 1x{length,-5} fused {f,8:F1} ms  eager {e,8:F1} ms  fused/eager {f / e:F3}"));
            }
        }
    }

    private static CausalLanguageModel Create(string architecture)
    {
        using var generator = new Generator(seed: 0);
        var module = SmallModels.Create(architecture, maxPositions: 2048);
        using (no_grad())
        {
            foreach (var parameter in module.parameters())
            {
                // Weights of a trained model's scale: normal(0, 0.02) matrices, norms and biases at 1.
                parameter.copy_(parameter.dim() == 1 ? ones_like(parameter) : randn(parameter.shape, generator: generator) * 0.02);
            }
        }
        return module;
    }
}
