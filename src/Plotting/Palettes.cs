using ScottPlot;

namespace NnSight.Plotting;

/// <summary>
/// The two palettes the figures use, ColorBrewer's, as plotly and matplotlib ship them: RdBu (diverging, red for
/// negative, near-white at zero, blue for positive, as TransformerLens's and nnsight's tutorials show patching results)
/// and Blues (sequential, for probabilities).
/// </summary>
internal static class Palettes
{
    /// <summary>ColorBrewer RdBu, 11 classes, from the lowest value to the highest.</summary>
    public static readonly IColormap RedBlue = new ScottPlot.Colormaps.CustomInterpolated(
    [
        Color.FromHex("#67001F"), Color.FromHex("#B2182B"), Color.FromHex("#D6604D"), Color.FromHex("#F4A582"),
        Color.FromHex("#FDDBC7"), Color.FromHex("#F7F7F7"), Color.FromHex("#D1E5F0"), Color.FromHex("#92C5DE"),
        Color.FromHex("#4393C3"), Color.FromHex("#2166AC"), Color.FromHex("#053061"),
    ]);

    /// <summary>ColorBrewer Blues, 9 classes, from the lowest value to the highest.</summary>
    public static readonly IColormap Blues = new ScottPlot.Colormaps.CustomInterpolated(
    [
        Color.FromHex("#F7FBFF"), Color.FromHex("#DEEBF7"), Color.FromHex("#C6DBEF"), Color.FromHex("#9ECAE1"),
        Color.FromHex("#6BAED6"), Color.FromHex("#4292C6"), Color.FromHex("#2171B5"), Color.FromHex("#08519C"),
        Color.FromHex("#08306B"),
    ]);

    /// <summary>Black or white, whichever reads better on <paramref name="background"/> (by its relative luminance).</summary>
    public static Color TextOn(Color background)
    {
        var luminance = (0.2126 * background.R + 0.7152 * background.G + 0.0722 * background.B) / 255;
        return luminance > 0.5 ? Colors.Black : Colors.White;
    }
}
