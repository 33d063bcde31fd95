using System.Diagnostics;
using System.Globalization;
using NnSight.Models.Modules;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// Where a GPT-2-small forward of 1×128 tokens spends its time, op by op, at 2 threads: each op of one layer (and the
/// head) timed alone on the layer's real shapes, with the variants libtorch offers for it, so a slow kernel shows
/// itself. Prints milliseconds per call and per forward (per call × the calls a forward makes). With <c>default-kernels</c>, MKL keeps its
/// own choice of kernels (see MklKernels).
/// </summary>
internal static class OpProfile
{
    private const int Tokens = 128;
    private const int Width = 768;
    private const int Vocabulary = 50257;
    private const int Layers = 12;

    public static void Run(int rounds, bool defaultKernels)
    {
        // As a model's creation does, unless the MKL default is asked for (to compare the two).
        var reproducible = !defaultKernels && MklKernels.SelectOnOtherVendors();
        set_num_threads(2);
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        Tensor Random(params long[] shape) => randn(shape, generator: generator) * 0.02;
        var x = Random(Tokens, Width) * 50;
        var qkvWeight = Random(3 * Width, Width);
        var qkvWeightIn = qkvWeight.t().contiguous();
        var bias3 = Random(3 * Width);
        var fcWeight = Random(4 * Width, Width);
        var fcWeightIn = fcWeight.t().contiguous();
        var bias4 = Random(4 * Width);
        var projWeight = Random(Width, 4 * Width);
        var projWeightIn = projWeight.t().contiguous();
        var bias1 = Random(Width);
        var head = Random(Vocabulary, Width);
        var headIn = head.t().contiguous();
        var hidden = Random(Tokens, 4 * Width) * 50;
        var query = Random(1, 12, Tokens, 64) * 50;
        var key = Random(1, 12, Tokens, 64) * 50;
        var value = Random(1, 12, Tokens, 64) * 50;
        var mask = ones(Tokens, Tokens, dtype: ScalarType.Bool).tril();
        var additive = zeros(Tokens, Tokens).masked_fill(mask.logical_not(), float.MinValue);

        Console.WriteLine($"GPT-2-small shapes, 1 x {Tokens} tokens, 2 threads, medians of {rounds}, MKL {(reproducible ? "reproducible mode (MKL_CBWR=AUTO)" : "mode not set here (Intel CPU, MKL_CBWR set, or default-kernels)")}; per forward = per call x calls");
        Console.WriteLine($"{"op",-52} {"ms/call",9} {"calls",6} {"ms/forward",11}");
        Report("c_attn linear (x W^T, W [2304, 768])", rounds, Layers, () => nn.functional.linear(x, qkvWeight, bias3));
        Report("c_attn addmm (x W, W [768, 2304])", rounds, Layers, () => addmm(bias3, x, qkvWeightIn, 1, 1));
        Report("c_fc linear (W [3072, 768])", rounds, Layers, () => nn.functional.linear(x, fcWeight, bias4));
        Report("c_fc addmm (W [768, 3072])", rounds, Layers, () => addmm(bias4, x, fcWeightIn, 1, 1));
        Report("mlp c_proj linear (W [768, 3072])", rounds, Layers, () => nn.functional.linear(hidden, projWeight, bias1));
        Report("mlp c_proj addmm (W [3072, 768])", rounds, Layers, () => addmm(bias1, hidden, projWeightIn, 1, 1));
        Report("lm_head linear (x W^T, W [50257, 768])", rounds, 1, () => nn.functional.linear(x, head));
        Report("lm_head matmul (x W, W [768, 50257] contiguous)", rounds, 1, () => matmul(x, headIn));
        Report("lm_head (W x^T)^T", rounds, 1, () => matmul(head, x.t()).t());
        Report("lm_head (W x^T)^T contiguous", rounds, 1, () => matmul(head, x.t()).t().contiguous());
        var x8 = Random(8 * Tokens, Width) * 50;
        Report("lm_head linear, 8 x 128 rows", rounds, 1, () => nn.functional.linear(x8, head));
        Report("lm_head (W x^T)^T contiguous, 8 x 128 rows", rounds, 1, () => matmul(head, x8.t()).t().contiguous());
        Report("lm_head linear in 8 vocabulary chunks", rounds, 1, () => cat(head.chunk(8).Select(part => nn.functional.linear(x, part)).ToArray(), 1));
        Report("gelu_new composed (HF NewGELUActivation)", rounds, Layers, () => 0.5 * hidden * (1.0 + ((hidden + 0.044715 * hidden.pow(3.0)) * Math.Sqrt(2.0 / Math.PI)).tanh()));
        Report("gelu tanh (libtorch kernel)", rounds, Layers, () => nn.functional.gelu(hidden, TorchSharp.Modules.GELU.Approximate.tanh));
        Report("layer_norm", rounds, 2 * Layers + 1, () => nn.functional.layer_norm(x, [Width], bias1, bias1));
        Report("attention eager (scores, mask, softmax, @ v)", rounds, Layers, () =>
            matmul(nn.functional.softmax(where(mask, matmul(query, key.transpose(-1, -2)) / 8.0, tensor(float.MinValue)), -1), value));
        Report("attention fused (scaled_dot_product_attention)", rounds, Layers, () => nn.functional.scaled_dot_product_attention(query, key, value, additive));
        Report("split heads + merge (permute, contiguous)", rounds, Layers, () => query.permute(0, 2, 1, 3).contiguous().view(1, Tokens, Width));
    }

    private static void Report(string name, int rounds, int calls, Func<Tensor> op)
    {
        var times = new List<double>();
        for (var round = -1; round < rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            // A scope frees the intermediates at once, as a module's forward does.
            using (NewDisposeScope())
            {
                op();
            }
            if (round >= 0)
            {
                times.Add(clock.Elapsed.TotalMilliseconds);
            }
        }
        var median = times.Order().ElementAt(rounds / 2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-52} {median,9:F2} {calls,6} {median * calls,11:F1}"));
    }
}
