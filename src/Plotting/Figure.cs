using ScottPlot;

namespace NnSight.Plotting;

/// <summary>
/// A figure made by <see cref="Plots"/>: a ScottPlot plot and the size it is saved at. Save it as PNG or SVG;
/// <see cref="Plot"/> is there for anything the factory methods do not set (fonts, titles, extra annotations).
/// </summary>
public sealed class Figure : IDisposable
{
    private readonly int _rows;
    private readonly int _columns;

    internal Figure(Plot plot, int width, int height, int rows, int columns)
    {
        Plot = plot;
        Width = width;
        Height = height;
        _rows = rows;
        _columns = columns;
    }

    /// <summary>The ScottPlot plot behind the figure.</summary>
    public Plot Plot { get; }

    /// <summary>The width in pixels the figure is saved at.</summary>
    public int Width { get; }

    /// <summary>The height in pixels the figure is saved at.</summary>
    public int Height { get; }

    /// <summary>Writes the figure as a PNG file (its folder is created if needed) and returns the file's full path.</summary>
    public string SavePng(string path) => Plot.SavePng(Prepare(path), Width, Height).Path;

    /// <summary>Writes the figure as an SVG file (its folder is created if needed) and returns the file's full path.</summary>
    public string SaveSvg(string path) => Plot.SaveSvg(Prepare(path), Width, Height).Path;

    /// <summary>Releases the plot's drawing resources.</summary>
    public void Dispose() => Plot.Dispose();

    /// <summary>
    /// The pixel at the centre of cell (<paramref name="row"/>, <paramref name="column"/>) in the saved image, row 0 at
    /// the top.
    /// </summary>
    internal Pixel CellCenter(int row, int column)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, _rows);
        ArgumentOutOfRangeException.ThrowIfNegative(column);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(column, _columns);
        Plot.RenderInMemory(Width, Height);
        return Plot.GetPixel(GridFigure.Center(row, column, _rows));
    }

    private static string Prepare(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return full;
    }
}
