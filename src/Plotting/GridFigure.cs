using ScottPlot;
using ScottPlot.TickGenerators;

namespace NnSight.Plotting;

/// <summary>
/// Draws a grid of coloured cells with a label per row and column, a colour bar and optional text in each cell: the
/// layout every figure of this package shares. Row 0 is at the top (as <c>imshow</c> draws a matrix), cell
/// (row, column) is centred on (column, rows − 1 − row) in plot units.
/// </summary>
internal static class GridFigure
{
    private const float CellFontSize = 10;

    // Families tried in order for every text of a figure; the platform's default when none is installed.
    private static readonly string[] SansFamilies = ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Noto Sans"];

    private static readonly Lazy<string?> SansFamily = new(() => SansFamilies.FirstOrDefault(family =>
        string.Equals(Fonts.GetTypeface(family, bold: false, italic: false)?.FamilyName, family, StringComparison.OrdinalIgnoreCase)));

    /// <summary>Where cell (<paramref name="row"/>, <paramref name="column"/>) is centred, in plot units.</summary>
    public static Coordinates Center(int row, int column, int rows) => new(column, rows - 1 - row);

    /// <summary>The cell size, in pixels, a figure without a given size is laid out with.</summary>
    public readonly record struct CellSize(int Width, int Height);

    /// <summary>Builds the figure.</summary>
    /// <param name="values">The value of each cell, rows × columns.</param>
    /// <param name="rowLabels">One label per row (shown at the left).</param>
    /// <param name="columnLabels">One label per column (shown under the grid).</param>
    /// <param name="colormap">The palette, from the bottom of <paramref name="range"/> to its top.</param>
    /// <param name="range">The values the palette's ends stand for; values outside take the nearer end.</param>
    /// <param name="options">Titles and size.</param>
    /// <param name="cell">The cell size used when <paramref name="options"/> gives no size.</param>
    /// <param name="cellText">Text written in each cell, or null.</param>
    public static Figure Create(double[,] values, string[] rowLabels, string[] columnLabels, IColormap colormap, ScottPlot.Range range,
        FigureOptions options, CellSize cell, string[,]? cellText = null)
    {
        var rows = values.GetLength(0);
        var columns = values.GetLength(1);
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(values);
        heatmap.Colormap = colormap;
        heatmap.ManualRange = range;
        var colorBar = plot.Add.ColorBar(heatmap);
        if (options.ColorLabel is { } colorLabel)
        {
            colorBar.Label = colorLabel;
            colorBar.LabelStyle.Bold = false;
        }

        plot.Axes.Bottom.TickGenerator = new NumericManual([.. Enumerable.Range(0, columns).Select(column => (double)column)], columnLabels);
        plot.Axes.Left.TickGenerator = new NumericManual([.. Enumerable.Range(0, rows).Select(row => Center(row, 0, rows).Y)], rowLabels);
        var rotate = columnLabels.Any(label => label.Length > 3);
        // About 7 pixels a character; rotated labels need room under the axis for their diagonal.
        var columnLabelHeight = rotate ? 5 * columnLabels.Max(label => label.Length) + 8 : 14;
        if (rotate)
        {
            plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
            plot.Axes.Bottom.MinimumSize = columnLabelHeight + 24;
        }
        plot.Axes.SetLimits(-0.5, columns - 0.5, -0.5, rows - 0.5);
        plot.HideGrid();

        if (cellText is not null)
        {
            for (var row = 0; row < rows; row++)
            {
                for (var column = 0; column < columns; column++)
                {
                    var text = plot.Add.Text(cellText[row, column], Center(row, column, rows));
                    text.Alignment = Alignment.MiddleCenter;
                    text.LabelFontSize = CellFontSize;
                    text.LabelFontColor = Palettes.TextOn(ColorOf(colormap, range, values[row, column]));
                    if (SansFamily.Value is { } cellFamily)
                    {
                        text.LabelFontName = cellFamily;
                    }
                }
            }
        }

        if (options.Title is { } title)
        {
            plot.Title(title);
        }
        if (options.XLabel is { } xLabel)
        {
            plot.XLabel(xLabel);
        }
        if (options.YLabel is { } yLabel)
        {
            plot.YLabel(yLabel);
        }
        if (SansFamily.Value is { } family)
        {
            plot.Font.Set(family);
            plot.Axes.Bottom.TickLabelStyle.FontName = family;
            plot.Axes.Left.TickLabelStyle.FontName = family;
            colorBar.Axis.TickLabelStyle.FontName = family;
            colorBar.LabelStyle.FontName = family;
        }

        // Margins for the labels and the colour bar.
        var rowLabelWidth = 7 * rowLabels.Max(label => label.Length);
        var width = options.Width ?? 110 + rowLabelWidth + columns * cell.Width + 100;
        var height = options.Height ?? 80 + columnLabelHeight + rows * cell.Height + (options.Title is null ? 0 : 30);
        return new Figure(plot, width, height, rows, columns);
    }

    /// <summary>The colour of <paramref name="value"/>: its place in <paramref name="range"/>, clamped to the ends.</summary>
    private static Color ColorOf(IColormap colormap, ScottPlot.Range range, double value) =>
        colormap.GetColor(Math.Clamp((value - range.Min) / (range.Max - range.Min), 0, 1));
}
