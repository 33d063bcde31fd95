using static TorchSharp.torch;

namespace NnSight;

/// <summary>
/// What one <c>Invoke</c> runs the model on: one or several texts through the model's tokenizer, or token ids used
/// exactly as given. Texts, id arrays and id tensors convert to it implicitly.
/// </summary>
public abstract record InvocationInput
{
    private InvocationInput()
    {
    }

    /// <summary>Texts, one row each, tokenized with the model's defaults.</summary>
    /// <param name="Prompts">The texts.</param>
    public sealed record Text(IReadOnlyList<string> Prompts) : InvocationInput;

    /// <summary>Token ids, one row per list, with optional masks.</summary>
    /// <param name="Rows">The rows of ids (and masks).</param>
    public sealed record Ids(IReadOnlyList<TokenRow> Rows) : InvocationInput;

    /// <summary>One text.</summary>
    public static implicit operator InvocationInput(string prompt) => new Text([prompt]);

    /// <summary>Several texts, one row each.</summary>
    public static implicit operator InvocationInput(string[] prompts) => new Text(prompts);

    /// <summary>One row of token ids.</summary>
    public static implicit operator InvocationInput(long[] ids) => new Ids([new TokenRow(ids)]);

    /// <summary>One row of token ids as a tokenizer returns them.</summary>
    public static implicit operator InvocationInput(int[] ids) => new Ids([new TokenRow([.. (ids ?? throw new ArgumentNullException(nameof(ids))).Select(id => (long)id)])]);

    /// <summary>Token ids <c>[seq]</c> or <c>[rows, seq]</c>.</summary>
    public static implicit operator InvocationInput(Tensor ids) => FromTensor(ids);

    /// <summary>Token ids from a <c>[seq]</c> or <c>[rows, seq]</c> tensor and an optional mask of the same shape.</summary>
    public static Ids FromTensor(Tensor ids, Tensor? attentionMask = null)
    {
        if (ids.dim() is not (1 or 2) || ids.is_floating_point())
        {
            throw new ArgumentException($"Token ids must be an integer tensor of shape [seq] or [rows, seq]; got {ids.dtype} {Shapes.Format(ids.shape)}.", nameof(ids));
        }
        if (attentionMask is not null && !attentionMask.shape.SequenceEqual(ids.shape))
        {
            throw new ArgumentException($"The attention mask has shape {Shapes.Format(attentionMask.shape)} but the ids have {Shapes.Format(ids.shape)}.", nameof(attentionMask));
        }
        var rows = ReadRows(ids);
        var masks = attentionMask is null ? null : ReadRows(attentionMask);
        return new Ids([.. rows.Select((row, index) => new TokenRow(row, masks?[index]))]);
    }

    private static long[][] ReadRows(Tensor values)
    {
        // The scope also disposes the handles detach(), cpu() and to_type() return along the way.
        using var scope = NewDisposeScope();
        var host = values.detach().cpu().to_type(ScalarType.Int64).contiguous();
        var matrix = host.dim() == 1 ? host.unsqueeze(0) : host;
        var data = matrix.data<long>().ToArray();
        var width = (int)matrix.shape[1];
        return [.. Enumerable.Range(0, (int)matrix.shape[0]).Select(row => data[(row * width)..((row + 1) * width)])];
    }
}
