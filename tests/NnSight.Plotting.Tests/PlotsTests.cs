using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Plotting.Tests;

/// <summary>
/// The figures as files: each is written as PNG and SVG, decoded back, has the asked size, and the pixel at a known
/// cell has the colour of that cell's value (ColorBrewer RdBu's ends and middle, Blues' ends).
/// </summary>
public sealed class PlotsTests : IDisposable
{
    private const string DarkestRed = "#67001F";     // RdBu at its lowest value
    private const string Middle = "#F7F7F7";         // RdBu at zero
    private const string DarkestBlue = "#053061";    // RdBu at its highest value
    private const string BluesLowest = "#F7FBFF";    // Blues at 0
    private const string BluesHighest = "#08306B";   // Blues at 1

    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_heatmap_png_has_the_asked_size_and_each_cell_the_diverging_colour_of_its_value()
    {
        using var values = tensor(new float[,] { { -2, 0, 1 }, { 2, -1, 0.5f } });
        using var figure = Plots.Heatmap(values, ["layer 0", "layer 1"], [" When", " John", " Mary"],
            new FigureOptions { Title = "Patching", Width = 500, Height = 300 });

        var path = figure.SavePng(_folder.File("figures/heatmap.png"));
        var image = DecodedImage.FromPng(File.ReadAllBytes(path));

        Assert.Equal((500, 300), (image.Width, image.Height));
        Assert.Equal(DarkestRed, At(image, figure, 0, 0));
        Assert.Equal(Middle, At(image, figure, 0, 1));
        Assert.Equal(DarkestBlue, At(image, figure, 1, 0));
        var half = Rgb(image, figure, 1, 2);
        Assert.True(half.B > half.R, $"0.5 of a ±2 range is on the blue side of white, got {half}");
    }

    [Fact]
    public void A_heatmap_svg_has_the_asked_size_and_embeds_the_cells_in_their_colours()
    {
        using var values = tensor(new double[,] { { -3, 3 }, { 0, 1.5 } });
        using var figure = Plots.Heatmap(values, options: new FigureOptions { Width = 420, Height = 260 });

        var (width, height, images, _) = DecodedImage.ReadSvg(figure.SaveSvg(_folder.File("heatmap.svg")));

        Assert.Equal((420, 260), (width, height));
        var cells = Assert.Single(images, image => image.Width == 2 && image.Height == 2);
        Assert.Equal(DarkestRed, cells.Hex(0, 0));
        Assert.Equal(DarkestBlue, cells.Hex(1, 0));
        Assert.Equal(Middle, cells.Hex(0, 1));
    }

    [Fact]
    public void A_heatmap_is_centred_at_zero_whatever_the_sign_of_its_values()
    {
        using var values = tensor(new float[,] { { 0.25f, 1 } });
        using var figure = Plots.Heatmap(values, options: new FigureOptions { Width = 300, Height = 200 });

        var image = DecodedImage.FromPng(File.ReadAllBytes(figure.SavePng(_folder.File("positive.png"))));

        Assert.Equal(DarkestBlue, At(image, figure, 0, 1));
        var low = Rgb(image, figure, 0, 0);
        Assert.True(low.B > low.R && low.R > 150, $"0.25 of a ±1 range is a light blue, got {low}");
    }

    [Fact]
    public void A_logit_lens_grid_shows_each_cells_top_token_and_probability_coloured_by_it()
    {
        // Layer 0 is sure of token 3 at position 0 and undecided over 4 tokens at position 1; layer 1 the other way round.
        using var probabilities = tensor(new float[,,]
        {
            { { 0, 0, 0, 1 }, { 0.25f, 0.25f, 0.25f, 0.25f } },
            { { 0.1f, 0.2f, 0.3f, 0.4f }, { 0, 1, 0, 0 } },
        }).unsqueeze(1);                                                    // [layers, 1, positions, vocab], as stacked saves are
        var decoded = new List<long>();
        string Decode(long id)
        {
            decoded.Add(id);
            return $" tok{id}";
        }

        using var figure = Plots.LogitLens(probabilities, Decode, [" The", " Eiffel"], new FigureOptions { Width = 400, Height = 260 });
        var image = DecodedImage.FromPng(File.ReadAllBytes(figure.SavePng(_folder.File("lens.png"))));
        var (_, _, _, svg) = DecodedImage.ReadSvg(figure.SaveSvg(_folder.File("lens.svg")));

        Assert.Equal((400, 260), (image.Width, image.Height));
        Assert.Equal([3L, 0, 3, 1], decoded);                                // argmax per cell; ties take the first
        Assert.Equal(BluesHighest, Corner(image, figure, 0, 0));
        Assert.Equal(BluesHighest, Corner(image, figure, 1, 1));
        var text = string.Concat(svg.Descendants().Where(element => element.Name.LocalName == "text").Select(element => element.Value));
        Assert.Contains("tok3", text, StringComparison.Ordinal);
        Assert.Contains("1.00", text, StringComparison.Ordinal);
        Assert.Contains("0.25", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_logit_lens_of_logits_is_refused_with_a_message_that_says_to_pass_probabilities()
    {
        using var logits = tensor(new float[,,] { { { 3, -1 } } });

        var error = Assert.Throws<ArgumentException>(() => Plots.LogitLens(logits, id => id.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Contains("pass probabilities (the softmax of the logits)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_attention_pattern_draws_the_asked_head_with_queries_down_and_keys_across()
    {
        // Head 0 attends uniformly to the past; head 1 only to the token itself.
        using var uniform = tril(ones(3, 3)) / arange(1, 4).unsqueeze(1);
        using var self = eye(3);
        using var weights = stack([uniform, self]).unsqueeze(0);           // [1, heads, query, key], an attention module's weights

        using var figure = Plots.AttentionPattern(weights, ["A", "B", "C"], head: 1, new FigureOptions { Width = 360, Height = 320 });
        var image = DecodedImage.FromPng(File.ReadAllBytes(figure.SavePng(_folder.File("attention.png"))));

        Assert.Equal((360, 320), (image.Width, image.Height));
        Assert.Equal(BluesHighest, At(image, figure, 2, 2));
        Assert.Equal(BluesLowest, At(image, figure, 2, 0));
        Assert.Equal(BluesLowest, At(image, figure, 0, 2));
    }

    [Fact]
    public void An_attention_pattern_of_several_heads_needs_the_head()
    {
        using var weights = ones(1, 4, 3, 3);

        var error = Assert.Throws<ArgumentException>(() => Plots.AttentionPattern(weights));

        Assert.Contains("holds 4 heads: say which with head", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Labels_that_do_not_match_the_tensor_are_refused_naming_both_counts()
    {
        using var values = zeros(2, 3);

        var error = Assert.Throws<ArgumentException>(() => Plots.Heatmap(values, columnLabels: ["a", "b"]));

        Assert.Contains("columnLabels has 2 labels for 3 columns", error.Message, StringComparison.Ordinal);
    }

    private static string At(DecodedImage image, Figure figure, int row, int column)
    {
        var center = figure.CellCenter(row, column);
        return image.Hex((int)center.X, (int)center.Y);
    }

    private static (int R, int G, int B) Rgb(DecodedImage image, Figure figure, int row, int column)
    {
        var center = figure.CellCenter(row, column);
        return image.Rgb((int)center.X, (int)center.Y);
    }

    /// <summary>A pixel inside the cell, away from the text written at its centre.</summary>
    private static string Corner(DecodedImage image, Figure figure, int row, int column)
    {
        var center = figure.CellCenter(row, column);
        var next = figure.CellCenter(0, 1);
        var first = figure.CellCenter(0, 0);
        var halfWidth = (next.X - first.X) / 2;
        return image.Hex((int)(center.X - 0.8 * halfWidth), (int)center.Y);
    }
}
