using System.Globalization;
using static TorchSharp.torch;

namespace NnSight.Plotting;

/// <summary>
/// The figures interpretability results are read as: a heatmap of a 2-D result (a patching sweep: layers × tokens),
/// a logit-lens grid (each layer's top token and its probability at each position) and one attention head's pattern.
/// Each returns a <see cref="Figure"/> to save as PNG or SVG. Row 0 is drawn at the top, as <c>imshow</c> draws it.
/// </summary>
public static class Plots
{
    /// <summary>
    /// A heatmap of <paramref name="values"/> with a diverging palette centred at zero (red below, white at zero, blue
    /// above, the range ± the largest magnitude, as plotly's <c>RdBu</c> with <c>color_continuous_midpoint=0</c>) and a
    /// colour bar.
    /// </summary>
    /// <param name="values">A 2-D tensor, rows × columns (any dtype or device).</param>
    /// <param name="rowLabels">One label per row (for a sweep: the layers); null numbers the rows.</param>
    /// <param name="columnLabels">One label per column (for a sweep: the token strings); null numbers the columns.</param>
    /// <param name="options">Title, axis and colour-bar labels, size.</param>
    /// <exception cref="ArgumentException"><paramref name="values"/> is not 2-D, or a label list has another length.</exception>
    public static Figure Heatmap(Tensor values, IReadOnlyList<string>? rowLabels = null, IReadOnlyList<string>? columnLabels = null, FigureOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        var grid = TensorGrid.Values(values, nameof(values));
        var magnitude = grid.Cast<double>().Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();
        if (magnitude == 0)
        {
            magnitude = 1;
        }
        return GridFigure.Create(grid,
            TensorGrid.Labels(rowLabels, grid.GetLength(0), nameof(rowLabels), "rows"),
            TensorGrid.Labels(columnLabels, grid.GetLength(1), nameof(columnLabels), "columns"),
            Palettes.RedBlue, new ScottPlot.Range(-magnitude, magnitude), options ?? new FigureOptions(), new GridFigure.CellSize(48, 28));
    }

    /// <summary>
    /// The logit lens as nnsight's tutorial draws it: one row per layer, one column per input position, each cell
    /// showing the most likely next token under that layer's decoding and its probability, coloured by the probability
    /// (sequential blues, 0 to 1).
    /// </summary>
    /// <param name="probabilities">Each layer's next-token probabilities: <c>[layers, positions, vocab]</c>, or
    /// <c>[layers, 1, positions, vocab]</c> (one prompt's saved values stacked).</param>
    /// <param name="decode">The text of a token id (<c>id => tokenizer.Decode([id])</c>).</param>
    /// <param name="inputTokens">The prompt's tokens, one per position (the columns); null numbers the positions.</param>
    /// <param name="options">Title, axis labels, size; the axes default to "Input token" and "Layer".</param>
    /// <exception cref="ArgumentException">The shape is not one of those, a value is outside [0, 1] (logits rather than
    /// probabilities), or <paramref name="inputTokens"/> has another length.</exception>
    public static Figure LogitLens(Tensor probabilities, Func<long, string> decode, IReadOnlyList<string>? inputTokens = null, FigureOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(decode);
        using var scope = NewDisposeScope();
        var lens = probabilities.dim() == 4 && probabilities.shape[1] == 1 ? probabilities.squeeze(1) : probabilities;
        if (lens.dim() != 3)
        {
            throw new ArgumentException(
                $"{nameof(probabilities)} must be [layers, positions, vocab] or [layers, 1, positions, vocab], not [{string.Join(", ", probabilities.shape)}].",
                nameof(probabilities));
        }
        // Reduced where the tensor lives, so only [layers, positions] values travel to the CPU.
        var (top, ids) = lens.detach().max(-1);
        var grid = TensorGrid.Values(top, nameof(probabilities));
        if (grid.Cast<double>().Any(value => value is < -1e-6 or > 1 + 1e-6 || double.IsNaN(value)))
        {
            throw new ArgumentException($"{nameof(probabilities)} holds values outside [0, 1]: pass probabilities (the softmax of the logits), not logits.", nameof(probabilities));
        }
        var layers = grid.GetLength(0);
        var positions = grid.GetLength(1);
        var tokenIds = ids.cpu().contiguous().data<long>().ToArray();
        var text = new string[layers, positions];
        for (var layer = 0; layer < layers; layer++)
        {
            for (var position = 0; position < positions; position++)
            {
                var token = TokenText.Display(decode(tokenIds[layer * positions + position]));
                text[layer, position] = $"{Shorten(token)}\n{Probability(grid[layer, position])}";
            }
        }
        var given = options ?? new FigureOptions();
        given = given with
        {
            XLabel = given.XLabel ?? "Input token",
            YLabel = given.YLabel ?? "Layer",
            ColorLabel = given.ColorLabel ?? "Probability",
        };
        return GridFigure.Create(grid,
            TensorGrid.Labels(null, layers, nameof(probabilities), "layers"),
            TensorGrid.Labels(inputTokens, positions, nameof(inputTokens), "positions"),
            Palettes.Blues, new ScottPlot.Range(0, 1), given, new GridFigure.CellSize(72, 36), text);
    }

    /// <summary>
    /// One head's attention pattern as circuitsvis draws it: query (destination) tokens down, key (source) tokens
    /// across, each cell the attention probability (sequential blues, 0 to 1).
    /// </summary>
    /// <param name="pattern">Attention probabilities: <c>[query, key]</c> for one head, or <c>[heads, query, key]</c>
    /// or <c>[1, heads, query, key]</c> (an attention module's weights) with <paramref name="head"/>.</param>
    /// <param name="tokens">The tokens, one per position (both axes); null numbers the positions.</param>
    /// <param name="head">The head to draw when <paramref name="pattern"/> holds several.</param>
    /// <param name="options">Title, axis labels, size; the axes default to "Key (source)" and "Query (destination)".</param>
    /// <exception cref="ArgumentException">The shape is not one of those, the query and key lengths differ from the
    /// tokens, or <paramref name="head"/> is missing or out of range.</exception>
    public static Figure AttentionPattern(Tensor pattern, IReadOnlyList<string>? tokens = null, int? head = null, FigureOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        using var scope = NewDisposeScope();
        var heads = pattern.dim() == 4 && pattern.shape[0] == 1 ? pattern.squeeze(0) : pattern;
        Tensor matrix;
        switch (heads.dim(), head)
        {
            case (2, null):
                matrix = heads;
                break;
            case (2, _):
                throw new ArgumentException($"{nameof(pattern)} [{string.Join(", ", pattern.shape)}] holds one head; leave {nameof(head)} out.", nameof(head));
            case (3, null):
                throw new ArgumentException($"{nameof(pattern)} [{string.Join(", ", pattern.shape)}] holds {heads.shape[0]} heads: say which with {nameof(head)}.", nameof(head));
            case (3, { } index):
                if (index < 0 || index >= heads.shape[0])
                {
                    throw new ArgumentOutOfRangeException(nameof(head), index, $"{nameof(pattern)} has heads 0 to {heads.shape[0] - 1}.");
                }
                matrix = heads[index];
                break;
            default:
                throw new ArgumentException(
                    $"{nameof(pattern)} must be [query, key], [heads, query, key] or [1, heads, query, key], not [{string.Join(", ", pattern.shape)}].",
                    nameof(pattern));
        }
        var grid = TensorGrid.Values(matrix, nameof(pattern));
        var given = options ?? new FigureOptions();
        given = given with
        {
            Title = given.Title ?? (head is { } h ? $"Head {h}" : null),
            XLabel = given.XLabel ?? "Key (source)",
            YLabel = given.YLabel ?? "Query (destination)",
            ColorLabel = given.ColorLabel ?? "Attention",
        };
        return GridFigure.Create(grid,
            TensorGrid.Labels(tokens, grid.GetLength(0), nameof(tokens), "query positions"),
            TensorGrid.Labels(tokens, grid.GetLength(1), nameof(tokens), "key positions"),
            Palettes.Blues, new ScottPlot.Range(0, 1), given, new GridFigure.CellSize(40, 32));
    }

    /// <summary>A probability with two decimals, as nnsight's tutorial shows it; "&lt;0.01" below that.</summary>
    private static string Probability(double value) => value < 0.005 ? "<0.01" : value.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>A token cut to 10 characters (with an ellipsis) so it fits its cell.</summary>
    private static string Shorten(string token) => token.Length <= 10 ? token : token[..9] + "…";
}
