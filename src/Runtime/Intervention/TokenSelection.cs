using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>
/// <c>Token[...]</c>: positions along dimension 1 counted from each row's first real token, so left padding is
/// skipped (<c>Token[0]</c> is the prompt's first token, <c>Token[^1]</c> its last).
/// </summary>
internal static class TokenSelection
{
    /// <summary>Selects <paramref name="selector"/>'s positions of each row of <paramref name="values"/> <c>[rows, positions, ...]</c>.</summary>
    public static Tensor Select(Tensor values, TokenSelector selector, IReadOnlyList<long> realLengths)
    {
        if (values.dim() < 2)
        {
            throw new ArgumentException($"Token indexes dimension 1 (positions), but the value has shape {Shapes.Format(values.shape)}.");
        }
        if (values.shape[0] != realLengths.Count)
        {
            throw new ArgumentException($"Token expects {realLengths.Count} row(s) of this invocation, but the value has {values.shape[0]}.");
        }
        var positions = values.shape[1];
        var starts = realLengths.Select(length => Math.Max(0, positions - length)).ToArray();
        if (selector.Index is { } index)
        {
            var picked = starts.Select(start => Single(index, start, positions)).ToArray();
            using var rows = tensor(picked, device: values.device);
            using var gathered = Gather(values, rows.unsqueeze(1));
            return gathered.squeeze(1);
        }
        var range = selector.Range!.Value;
        var spans = starts.Select(start => (From: Bound(range.Start, start, positions), To: Bound(range.End, start, positions))).ToArray();
        var length = spans[0].To - spans[0].From;
        if (spans.Any(span => span.To - span.From != length) || length < 0)
        {
            throw new ArgumentException($"Token[{range}] selects a different number of tokens in rows of different lengths ({string.Join(", ", realLengths)}).");
        }
        using var offsets = arange(length, device: values.device);
        using var firsts = tensor(spans.Select(span => span.From).ToArray(), device: values.device);
        using var indices = firsts.unsqueeze(1) + offsets.unsqueeze(0);
        return Gather(values, indices);
    }

    /// <summary>The position of token <paramref name="index"/> in a row whose real tokens start at <paramref name="start"/>.</summary>
    private static long Single(Index index, long start, long positions)
    {
        var position = index.IsFromEnd ? positions - index.Value : start + index.Value;
        if (position < start || position >= positions)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"Token[{index}] is outside the row's {positions - start} real token(s).");
        }
        return position;
    }

    /// <summary>The position a range bound <paramref name="index"/> stands for (one past the last token is allowed).</summary>
    private static long Bound(Index index, long start, long positions)
    {
        var position = index.IsFromEnd ? positions - index.Value : start + index.Value;
        if (position < start || position > positions)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"Token range bound {index} is outside the row's {positions - start} real token(s).");
        }
        return position;
    }

    /// <summary><c>values[row, indices[row, k], ...]</c> for every row and k.</summary>
    private static Tensor Gather(Tensor values, Tensor indices)
    {
        using var rows = arange(values.shape[0], device: values.device).unsqueeze(1).expand_as(indices);
        return values.index([TensorIndex.Tensor(rows), TensorIndex.Tensor(indices)]);
    }
}
