namespace NnSight.Plotting;

/// <summary>
/// Titles and size of a figure. Every field is optional: a figure without a size is sized from its number of cells.
/// </summary>
public sealed record FigureOptions
{
    /// <summary>The title above the figure.</summary>
    public string? Title { get; init; }

    /// <summary>The label under the columns (plotly's <c>labels.x</c>).</summary>
    public string? XLabel { get; init; }

    /// <summary>The label beside the rows (plotly's <c>labels.y</c>).</summary>
    public string? YLabel { get; init; }

    /// <summary>The label of the colour bar (plotly's <c>labels.color</c>).</summary>
    public string? ColorLabel { get; init; }

    /// <summary>The image's width in pixels; null sizes it from the columns.</summary>
    public int? Width { get; init; }

    /// <summary>The image's height in pixels; null sizes it from the rows.</summary>
    public int? Height { get; init; }
}
