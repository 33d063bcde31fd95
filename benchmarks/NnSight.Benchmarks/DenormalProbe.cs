using System.Diagnostics;
using NnSight.Models;
using NnSight.Models.Llama;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// Whether denormal numbers slow the randomly initialised Llama-125M of <see cref="SmallModelBenchmarks"/>: the forward
/// over 1 × 128 tokens with TorchSharp's default initialisation (embeddings of standard deviation 1), twice, and again
/// after every matrix is drawn from normal(0, 0.02) as the checkpoint makers do, each with the count of subnormal values
/// in the logits and in the inputs of blocks 0, 5 and 11's <c>down_proj</c> and <c>o_proj</c>.
/// </summary>
internal static class DenormalProbe
{
    private const float SmallestNormal = 1.17549435e-38f;

    public static void Run()
    {
        manual_seed(0);
        var module = new LlamaForCausalLM(SmallModels.Llama125M());
        set_num_threads(2);
        using var model = new LanguageModel(module);
        var ids = Enumerable.Range(0, 128).Select(i => (long)(i * 37 % 32000)).ToArray();
        using var batch = model.Batch([ids]);
        // Twice, so that the process's warm-up falls on the first and the weights alone separate the last two.
        Report("default initialisation", model, batch, ids);
        Report("default initialisation, again", model, batch, ids);
        using (no_grad())
        {
            foreach (var (_, parameter) in module.named_parameters().Where(entry => entry.parameter.dim() == 2))
            {
                parameter.normal_(0, 0.02);
            }
        }
        Report("normal(0, 0.02) initialisation", model, batch, ids);
    }

    private static void Report(string label, LanguageModel model, TokenBatch batch, long[] ids)
    {
        var times = new List<double>();
        for (var run = -1; run < 5; run++)
        {
            var clock = Stopwatch.StartNew();
            model.Forward(batch).Dispose();
            if (run >= 0)
            {
                times.Add(clock.Elapsed.TotalMilliseconds);
            }
        }
        var saved = new List<TensorProxy>();
        var tracer = model.Trace();
        using (tracer)
        using (tracer.Invoke(ids))
        {
            foreach (var layer in new[] { 0, 5, 11 })
            {
                saved.Add(model.Envoy($"model.layers.{layer}.mlp.down_proj").Input.Save());
                saved.Add(model.Envoy($"model.layers.{layer}.self_attn.o_proj").Input.Save());
            }
        }
        var values = saved.Select(proxy => proxy.Value).Append(tracer.Output).ToList();
        var subnormal = values.Sum(value => (value.abs() < SmallestNormal).logical_and(value != 0).sum().item<long>());
        Console.WriteLine($"{label}: forward 1x128 median {times.Order().ElementAt(2):F1} ms; " +
            $"{subnormal} subnormal values among {values.Sum(value => value.numel())} (logits and six projection inputs)");
        values.ForEach(value => value.Dispose());
    }
}
