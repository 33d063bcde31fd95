using BenchmarkDotNet.Attributes;
using NnSight.Models;
using NnSight.Models.Generation;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// A GPT-2-small-shaped model (random weights, float32, CPU): steering every generated token with <c>All()</c> against
/// the bare generation (32 tokens after a 10-token prompt), and, over 1 × 128 tokens, a <c>Cache()</c> of every module
/// and a <c>Stop()</c> after block 0 against the plain forward.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class StepAndCacheBenchmarks
{
    private const int NewTokens = 32;
    private static readonly GenerationOptions Greedy = new() { MaxNewTokens = NewTokens, EosTokenId = -1 };
    private Gpt2SmallInput _input = null!;
    private TokenBatch _prompt = null!;
    private Tensor _steer = null!;

    private LanguageModel Model => _input.Model;

    [GlobalSetup]
    public void Setup()
    {
        _input = new Gpt2SmallInput();
        _prompt = Model.Batch([_input.Ids[..10]]);
        _steer = full(768, 0.1f);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _steer.Dispose();
        _prompt.Dispose();
        _input.Dispose();
    }

    [Benchmark(Description = "greedy 32 tokens")]
    public void BareGeneration()
    {
        using var result = Model.GenerateIds(_prompt, Greedy);
    }

    [Benchmark(Description = "greedy 32 tokens, All(): steer h.6")]
    public void SteeredGeneration()
    {
        var generator = Model.Generate(NewTokens, Greedy);
        using (generator)
        using (var invoker = generator.Invoke(_input.Ids[..10]))
        using (invoker.All())
        {
            var block = Model.Envoy("transformer.h.6");
            block.Output[0] = block.Output[0] + _steer;
        }
        generator.Output.Dispose();
    }

    [Benchmark(Description = "forward 1x128")]
    public void Forward()
    {
        using var output = Model.Forward(_input.Batch);
    }

    [Benchmark(Description = "trace 1x128, Cache() of every module")]
    public void CacheEveryModule()
    {
        ActivationCache cache;
        var tracer = Model.Trace();
        using (tracer)
        using (tracer.Invoke(_input.Ids))
        {
            cache = tracer.Cache();
        }
        tracer.Output.Dispose();
        cache.Dispose();
    }

    [Benchmark(Description = "trace 1x128, save h.0 and Stop()")]
    public void StopAfterFirstBlock()
    {
        TensorProxy first;
        using (var tracer = Model.Trace())
        using (tracer.Invoke(_input.Ids))
        {
            first = Model.Envoy("transformer.h.0").Output[0].Save();
            tracer.Stop();
        }
        first.Value.Dispose();
    }
}
