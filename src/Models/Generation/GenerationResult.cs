using static TorchSharp.torch;

namespace NnSight.Models.Generation;

/// <summary>
/// What generation produced; the caller owns the tensors and disposes them with the result.
/// </summary>
/// <param name="Sequences">The prompt (left-padded) and the new tokens, int64 <c>[batch, prompt + new]</c>.</param>
/// <param name="Scores">The scores each step chose from, <c>[steps, batch, vocab]</c>: the raw last-position logits
/// when greedy, the warped ones when sampling (HuggingFace's <c>output_scores</c>).</param>
public sealed record GenerationResult(Tensor Sequences, Tensor Scores) : IDisposable
{
    /// <summary>The number of generation steps run.</summary>
    public int Steps => (int)Scores.shape[0];

    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Sequences.Dispose();
        Scores.Dispose();
    }
}
