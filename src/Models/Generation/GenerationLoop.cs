using NnSight.Models.Configuration;
using NnSight.Models.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Models.Generation;

/// <summary>
/// HuggingFace's greedy and sampling loops (transformers 4.36 <c>greedy_search</c> / <c>sample</c>) over a causal
/// language model with a key/value cache. Each step feeds only the new token, with the mask grown by one column and
/// position ids read from the mask.
/// </summary>
internal sealed class GenerationLoop
{
    private readonly CausalLanguageModel _module;
    private readonly GenerationOptions _options;
    private readonly long[] _eosIds;
    private readonly long _padId;
    private readonly Generator? _sampler;
    private readonly int _logitsToKeep;

    /// <param name="module">The model.</param>
    /// <param name="options">How to pick tokens.</param>
    /// <param name="defaults">The model's eos and pad ids.</param>
    /// <param name="logitsToKeep">1 computes logits for the last position only; 0 for every position (when observed).</param>
    public GenerationLoop(CausalLanguageModel module, GenerationOptions options, GenerationConfig defaults, int logitsToKeep)
    {
        _logitsToKeep = logitsToKeep;
        _module = module;
        _options = options;
        _eosIds = options.EosTokenId is { } eos ? [eos] : [.. defaults.EosTokenIds.Select(id => (long)id)];
        _padId = options.PadTokenId ?? defaults.PadTokenId ?? 0;
        _sampler = options.DoSample && options.Seed is { } seed ? new Generator(seed, module.parameters().First().device) : null;
    }

    /// <summary>Generates from <paramref name="batch"/>, counting each step's tokens (one per row) on <paramref name="progress"/>.</summary>
    public GenerationResult Run(TokenBatch batch, CountProgress progress, CancellationToken cancellation)
    {
        using var scope = NewDisposeScope();
        var sequences = batch.InputIds.alias();
        var mask = batch.AttentionMask.alias();
        var unfinished = ones(batch.Rows, dtype: ScalarType.Bool, device: sequences.device);
        var eos = tensor(_eosIds, device: sequences.device);
        var scores = new List<Tensor>();
        KeyValueCache? cache = null;
        for (var step = 0; step < _options.MaxNewTokens; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var stepScope = NewDisposeScope();
            var input = cache is null ? sequences : sequences.narrow(1, sequences.shape[1] - 1, 1);
            var positions = TokenBatch.PositionIds(mask).narrow(1, mask.shape[1] - input.shape[1], input.shape[1]);
            var output = _module.call(input, cache, mask, positions, _logitsToKeep);
            cache?.Dispose();
            cache = output.PastKeyValues;

            var stepScores = Process(output.Logits.select(1, -1));
            var next = _options.DoSample ? Sample(stepScores) : stepScores.argmax(-1);
            next = where(unfinished, next, tensor(_padId, device: next.device));
            sequences = cat([sequences, next.unsqueeze(1)], 1);
            mask = cat([mask, ones_like(next).unsqueeze(1)], 1);
            unfinished = unfinished.logical_and(next.unsqueeze(1).eq(eos.unsqueeze(0)).any(1).logical_not());

            cache.MoveToOuterDisposeScope();
            scores.Add(stepScores.MoveToOuterDisposeScope());
            sequences.MoveToOuterDisposeScope();
            mask.MoveToOuterDisposeScope();
            unfinished.MoveToOuterDisposeScope();
            progress.Advance(batch.Rows);
            if (!unfinished.any().item<bool>())
            {
                break;
            }
        }
        progress.Finish();
        cache?.Dispose();
        var stacked = scores.Count > 0
            ? stack(scores)
            : empty(0, batch.Rows, _module.Config.VocabSize, dtype: _module.parameters().First().dtype, device: sequences.device);
        return new GenerationResult(sequences.MoveToOuterDisposeScope(), stacked.MoveToOuterDisposeScope());
    }

    /// <summary>The logits warpers of HuggingFace's sampling, in its order: temperature, top-k, top-p.</summary>
    private Tensor Process(Tensor logits)
    {
        if (!_options.DoSample)
        {
            return logits;
        }
        var scores = _options.Temperature == 1.0 ? logits : logits / _options.Temperature;
        if (_options.TopK > 0 && _options.TopK < scores.shape[^1])
        {
            var kth = scores.topk(_options.TopK, dim: -1).values.narrow(-1, _options.TopK - 1, 1);
            scores = scores.masked_fill(scores.lt(kth), double.NegativeInfinity);
        }
        if (_options.TopP < 1.0)
        {
            var (sorted, order) = scores.sort(dim: -1, descending: false);
            var cumulative = nn.functional.softmax(sorted, dim: -1).cumsum(-1);
            var removeSorted = cumulative.le(1.0 - _options.TopP);
            removeSorted.narrow(-1, removeSorted.shape[^1] - 1, 1).fill_(false);
            var remove = removeSorted.scatter(-1, order, removeSorted);
            scores = scores.masked_fill(remove, double.NegativeInfinity);
        }
        return scores;
    }

    private Tensor Sample(Tensor scores)
    {
        var probabilities = nn.functional.softmax(scores.to_type(ScalarType.Float32), dim: -1);
        return multinomial(probabilities, 1, replacement: false, generator: _sampler).squeeze(1);
    }
}
