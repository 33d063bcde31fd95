using NnSight.Models;
using NnSight.Models.Gpt2;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// GPT-2 small with random weights (float32, CPU) and one row of 128 random token ids, as the tracing benchmarks use
/// it; disposing releases the model and the batch.
/// </summary>
internal sealed class Gpt2SmallInput : IDisposable
{
    public Gpt2SmallInput()
    {
        manual_seed(0);
        Model = new LanguageModel(new GPT2LMHeadModel(new GPT2Config()));
        using var ids = randint(0, 50257, [128], dtype: ScalarType.Int64);
        Ids = ids.data<long>().ToArray();
        Batch = Model.Batch([Ids]);
    }

    public LanguageModel Model { get; }

    public long[] Ids { get; }

    public TokenBatch Batch { get; }

    public void Dispose()
    {
        Batch.Dispose();
        Model.Dispose();
    }
}
