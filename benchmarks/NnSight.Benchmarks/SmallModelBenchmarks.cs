using BenchmarkDotNet.Attributes;
using NnSight.Models;
using NnSight.Models.Generation;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// Two architectures of GPT-2-small size with random weights, float32 on the CPU, side by side: GPT-2 small
/// (12 × 768, MLP 3072, vocabulary 50257, tied head; 124 M parameters) and a Llama of the same depth and width
/// (12 × 768, 12 query / 4 key-value heads, SwiGLU MLP 2048, vocabulary 32000, untied head; 125 M parameters). One
/// forward over 128 tokens, and greedy generation of 32 tokens after a 10-token prompt with the key/value cache.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class SmallModelBenchmarks
{
    private LanguageModel _model = null!;
    private TokenBatch _forwardBatch = null!;
    private TokenBatch _promptBatch = null!;

    /// <summary>The architecture measured.</summary>
    [Params("GPT-2", "Llama")]
    public string Architecture { get; set; } = "GPT-2";

    [GlobalSetup]
    public void Setup()
    {
        manual_seed(0);
        _model = new LanguageModel(SmallModels.Create(Architecture));
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
        using var ids = randint(0, _model.Config.VocabSize, [length], dtype: ScalarType.Int64);
        return _model.Batch([ids.data<long>().ToArray()]);
    }
}
