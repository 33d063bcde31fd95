using BenchmarkDotNet.Attributes;
using NnSight.Models;
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
    private Gpt2SmallInput _input = null!;
    private Tensor _positions = null!;

    private LanguageModel Model => _input.Model;

    [GlobalSetup]
    public void Setup()
    {
        _input = new Gpt2SmallInput();
        _positions = TokenBatch.PositionIds(_input.Batch.AttentionMask);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _positions.Dispose();
        _input.Dispose();
    }

    [Benchmark(Baseline = true, Description = "forward + backward 1x128")]
    public void Plain()
    {
        using var scope = NewDisposeScope();
        using var gradMode = enable_grad();
        using var output = Model.Module.call(_input.Batch.InputIds, null, _input.Batch.AttentionMask, _positions, 0);
        output.Logits[0, -1, Target].backward();
        Model.ZeroGrad();
    }

    [Benchmark(Description = "trace 1x128, 24 .Grad saves")]
    public void TwentyFourGradients()
    {
        var saved = new List<TensorProxy>();
        var tracer = Model.Trace();
        using (tracer)
        using (tracer.Invoke(_input.Ids))
        {
            var blocks = Model.Envoy("transformer.h");
            for (var layer = 0; layer < blocks.Count; layer++)
            {
                saved.Add(blocks[layer].Output[0].Grad.Save());
                saved.Add(blocks[layer].Child("mlp").Output.Grad.Save());
            }
            Model.Envoy("lm_head").Output[0, ^1, Target].Backward();
        }
        tracer.Output.Dispose();
        saved.ForEach(proxy => proxy.Value.Dispose());
        Model.ZeroGrad();
    }
}
