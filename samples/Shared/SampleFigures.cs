using NnSight.Plotting;

namespace NnSight.Samples;

/// <summary>Where the samples write their figures: <c>artifacts/figures</c> under the current folder, PNG and SVG.</summary>
internal static class SampleFigures
{
    /// <summary>Saves <paramref name="figure"/> as <paramref name="name"/>.png and .svg and says where on standard output.</summary>
    public static void Save(Figure figure, string name)
    {
        var folder = Path.Combine("artifacts", "figures");
        var png = figure.SavePng(Path.Combine(folder, name + ".png"));
        var svg = figure.SaveSvg(Path.Combine(folder, name + ".svg"));
        Console.WriteLine($"Figure: {png} (and {Path.GetFileName(svg)} beside it)");
    }
}
