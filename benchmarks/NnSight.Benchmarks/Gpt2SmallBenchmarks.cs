using BenchmarkDotNet.Attributes;
using NnSight.Models;
using NnSight.Models.Generation;
using NnSight.Models.Gpt2;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// A GPT-2-small-shaped model (12 × 768, vocabulary 50257) with random weights, float32 on the CPU: one forward over
/// 128 tokens, and greedy generation of 32 tokens after a 10-token prompt with the key/value cache.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class Gpt2SmallBenchmarks
{
    private LanguageModel _model = null!;
    private TokenBatch _forwardBatch = null!;
    private TokenBatch _promptBatch = null!;

    [GlobalSetup]
    public void Setup()
    {
        manual_seed(0);
        _model = new LanguageModel(new GPT2LMHeadModel(new GPT2Config()));
        _forwardBatch = RandomBatch(128);
        _promptBatch = RandomBatch(10);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _forwardBatch.Dispose();
        _promptBatch.Dispose();
        _model.Dispose();
    }

    [Benchmark(Description = "forward 1x128")]
    public void Forward128()
    {
        using var output = _model.Forward(_forwardBatch);
    }

    [Benchmark(Description = "greedy 32 tokens")]
    public void Generate32()
    {
        using var result = _model.GenerateIds(_promptBatch, new GenerationOptions { MaxNewTokens = 32, EosTokenId = -1 });
    }

    private TokenBatch RandomBatch(int length)
    {
        using var ids = randint(0, 50257, [length], dtype: ScalarType.Int64);
        return _model.Batch([ids.data<long>().ToArray()]);
    }
}
