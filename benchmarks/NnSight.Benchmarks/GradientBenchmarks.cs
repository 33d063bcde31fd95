using BenchmarkDotNet.Attributes;
using NnSight.Models;
using NnSight.Models.Gpt2;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// A GPT-2-small-shaped model (random weights, float32, CPU) over 1 × 128 tokens: plain TorchSharp forward and
/// backward from one logit against a trace doing the same with 24 gradient saves (every block's hidden states and
/// every MLP's output), so the ratio is the cost of the taps, the callbacks and the copies.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class GradientBenchmarks
{
    private const long Target = 6342;
    private LanguageModel _model = null!;
    private TokenBatch _batch = null!;
    private Tensor _positions = null!;
    private long[] _ids = null!;

    [GlobalSetup]
    public void Setup()
    {
        manual_seed(0);
        _model = new LanguageModel(new GPT2LMHeadModel(new GPT2Config()));
        using var ids = randint(0, 50257, [128], dtype: ScalarType.Int64);
        _ids = ids.data<long>().ToArray();
        _batch = _model.Batch([_ids]);
        _positions = TokenBatch.PositionIds(_batch.AttentionMask);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _positions.Dispose();
        _batch.Dispose();
        _model.Dispose();
    }

    [Benchmark(Baseline = true, Description = "forward + backward 1x128")]
    public void Plain()
    {
        using var scope = NewDisposeScope();
        using var gradMode = enable_grad();
        using var output = _model.Module.call(_batch.InputIds, null, _batch.AttentionMask, _positions, 0);
        output.Logits[0, -1, Target].backward();
        _model.ZeroGrad();
    }

    [Benchmark(Description = "trace 1x128, 24 .Grad saves")]
    public void TwentyFourGradients()
    {
        var saved = new List<TensorProxy>();
        var tracer = _model.Trace();
        using (tracer)
        using (tracer.Invoke(_ids))
        {
            var blocks = _model.Envoy("transformer.h");
            for (var layer = 0; layer < blocks.Count; layer++)
            {
                saved.Add(blocks[layer].Output[0].Grad.Save());
                saved.Add(blocks[layer].Child("mlp").Output.Grad.Save());
            }
            _model.Envoy("lm_head").Output[0, ^1, Target].Backward();
        }
        tracer.Output.Dispose();
        saved.ForEach(proxy => proxy.Value.Dispose());
        _model.ZeroGrad();
    }
}
