using BenchmarkDotNet.Attributes;
using NnSight.Models;

namespace NnSight.Benchmarks;

/// <summary>
/// A GPT-2-small-shaped model (random weights, float32, CPU) over 1 × 128 tokens: the plain forward against a trace
/// that saves 24 values (every block's hidden states and every MLP's output).
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class TracingOverheadBenchmarks
{
    private Gpt2SmallInput _input = null!;

    private LanguageModel Model => _input.Model;

    [GlobalSetup]
    public void Setup() => _input = new Gpt2SmallInput();

    [GlobalCleanup]
    public void Cleanup() => _input.Dispose();

    [Benchmark(Baseline = true, Description = "forward 1x128")]
    public void Plain()
    {
        using var output = Model.Forward(_input.Batch);
    }

    [Benchmark(Description = "trace 1x128, 24 saves")]
    public void TwentyFourSaves()
    {
        var saved = new List<TensorProxy>();
        var tracer = Model.Trace();
        using (tracer)
        using (tracer.Invoke(_input.Ids))
        {
            var blocks = Model.Envoy("transformer.h");
            for (var layer = 0; layer < blocks.Count; layer++)
            {
                saved.Add(blocks[layer].Output[0].Save());
                saved.Add(blocks[layer].Child("mlp").Output.Save());
            }
        }
        tracer.Output.Dispose();
        saved.ForEach(proxy => proxy.Value.Dispose());
    }
}
