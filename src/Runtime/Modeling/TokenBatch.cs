using static TorchSharp.torch;

namespace NnSight;

/// <summary>One row of token ids and its attention mask (null: every token is real).</summary>
/// <param name="Ids">The token ids.</param>
/// <param name="Mask">1 for real tokens, 0 for padding, one entry per id; null means all ones.</param>
public sealed record TokenRow(IReadOnlyList<long> Ids, IReadOnlyList<long>? Mask = null)
{
    /// <summary>The number of real tokens.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int RealLength => Mask is null ? Ids.Count : (int)Mask.Sum();
}

/// <summary>
/// Prompts as one left-padded batch: ids and attention mask, both int64 <c>[rows, positions]</c>. Position ids follow
/// the mask (cumsum − 1, pads set to 1), as HuggingFace computes them in generation, so a padded row sees the same
/// positions as the prompt alone. The batch owns its tensors.
/// </summary>
/// <param name="InputIds">Token ids, pads on the left.</param>
/// <param name="AttentionMask">1 for real tokens, 0 for pads.</param>
public sealed record TokenBatch(Tensor InputIds, Tensor AttentionMask) : IDisposable
{
    /// <summary>The number of rows.</summary>
    public int Rows => (int)InputIds.shape[0];

    /// <summary>The padded length.</summary>
    public int Length => (int)InputIds.shape[1];

    /// <summary>Builds a batch from rows of ids, left-padding the shorter rows with <paramref name="padId"/>.</summary>
    /// <exception cref="ArgumentException">There are no rows, or a row is empty.</exception>
    public static TokenBatch LeftPadded(IReadOnlyList<IReadOnlyList<long>> rows, long padId, Device? device = null) =>
        LeftPadded([.. rows.Select(row => new TokenRow(row))], padId, device);

    /// <summary>Builds a batch from rows with masks, left-padding the shorter rows with <paramref name="padId"/>.</summary>
    /// <exception cref="ArgumentException">There are no rows, a row has no real token, or a mask's length differs from its ids'.</exception>
    public static TokenBatch LeftPadded(IReadOnlyList<TokenRow> rows, long padId, Device? device = null)
    {
        if (rows.Count == 0)
        {
            throw new ArgumentException("A batch needs at least one prompt.", nameof(rows));
        }
        for (var row = 0; row < rows.Count; row++)
        {
            if (rows[row].Mask is { } rowMask && rowMask.Count != rows[row].Ids.Count)
            {
                throw new ArgumentException($"Row {row} has {rows[row].Ids.Count} ids but a mask of {rowMask.Count}.", nameof(rows));
            }
            if (rows[row].RealLength == 0)
            {
                throw new ArgumentException($"Prompt {row} has no tokens; a forward pass needs at least one.", nameof(rows));
            }
        }
        var length = rows.Max(row => row.Ids.Count);
        var ids = new long[rows.Count * length];
        var mask = new long[rows.Count * length];
        for (var row = 0; row < rows.Count; row++)
        {
            var padding = length - rows[row].Ids.Count;
            for (var position = 0; position < length; position++)
            {
                var real = position >= padding;
                ids[row * length + position] = real ? rows[row].Ids[position - padding] : padId;
                mask[row * length + position] = real ? rows[row].Mask?[position - padding] ?? 1 : 0;
            }
        }
        long[] shape = [rows.Count, length];
        return new TokenBatch(tensor(ids, shape, device: device), tensor(mask, shape, device: device));
    }

    /// <summary>Position ids for <paramref name="attentionMask"/>: cumsum(mask) − 1, with padded positions set to 1.</summary>
    public static Tensor PositionIds(Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var positions = attentionMask.cumsum(-1) - 1;
        return positions.masked_fill(attentionMask.eq(0), 1).MoveToOuterDisposeScope();
    }

    /// <summary>The number of real (unpadded) tokens of each row.</summary>
    public long[] RealLengths()
    {
        using var sums = AttentionMask.sum(1).cpu();
        return sums.data<long>().ToArray();
    }

    /// <summary>Disposes the ids and the mask.</summary>
    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
    }
}
