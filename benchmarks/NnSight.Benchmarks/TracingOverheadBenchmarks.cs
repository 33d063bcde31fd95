using BenchmarkDotNet.Attributes;
using NnSight.Models;
using NnSight.Models.Gpt2;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// A GPT-2-small-shaped model (random weights, float32, CPU) over 1 × 128 tokens: the plain forward against a trace
/// that saves 24 values (every block's hidden states and every MLP's output).
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class TracingOverheadBenchmarks
{
    private LanguageModel _model = null!;
    private TokenBatch _batch = null!;
    private long[] _ids = null!;

    [GlobalSetup]
    public void Setup()
    {
        manual_seed(0);
        _model = new LanguageModel(new GPT2LMHeadModel(new GPT2Config()));
        using var ids = randint(0, 50257, [128], dtype: ScalarType.Int64);
        _ids = ids.data<long>().ToArray();
        _batch = _model.Batch([_ids]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _batch.Dispose();
        _model.Dispose();
    }

    [Benchmark(Baseline = true, Description = "forward 1x128")]
    public void Plain()
    {
        using var output = _model.Forward(_batch);
    }

    [Benchmark(Description = "trace 1x128, 24 saves")]
    public void TwentyFourSaves()
    {
        var saved = new List<TensorProxy>();
        var tracer = _model.Trace();
        using (tracer)
        using (tracer.Invoke(_ids))
        {
            var blocks = _model.Envoy("transformer.h");
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
