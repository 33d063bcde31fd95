using System.Globalization;

namespace NnSight.EndToEnd.Tests;

/// <summary>
/// The text of a <c>[Shape]</c> attribute (<c>([batch, seq, 64], 4 × ([batch, 4, past+seq, 16], ...))</c>) with the
/// sizes of one forward pass put in, written as <see cref="Of"/> writes a rule's or a run's shape, so the two compare as
/// text. Products (<c>batch·seq</c>) multiply; <c>?</c> stays.
/// </summary>
internal static class SymbolicShapeText
{
    /// <summary>The shape of a forward pass of <paramref name="batch"/> rows, <paramref name="seq"/> new and <paramref name="past"/> cached positions.</summary>
    public static string Instantiate(string text, long batch, long seq, long past)
    {
        var sizes = new Dictionary<string, long> { ["batch"] = batch, ["seq"] = seq, ["past+seq"] = past + seq };
        var position = 0;
        var result = Shape(text, ref position, sizes);
        Assert.Equal(text.Length, position);
        return result;
    }

    /// <summary>A rule's or a run's shape without dtypes: <c>[1, 6, 64]</c>, <c>(..., ...)</c>, <c>?</c> for none.</summary>
    public static string Of(ValueShape? shape) => shape?.ToString() ?? "?";

    /// <summary>The texts of a tuple's elements (<c>n × e</c> is n copies of e).</summary>
    public static IReadOnlyList<string> Elements(string tuple)
    {
        if (!tuple.StartsWith('('))
        {
            var times = tuple.IndexOf(" × ", StringComparison.Ordinal);
            return [.. Enumerable.Repeat(tuple[(times + 3)..], int.Parse(tuple[..times], CultureInfo.InvariantCulture))];
        }
        var elements = new List<string>();
        var (depth, start) = (0, 1);
        for (var index = 1; index < tuple.Length - 1; index++)
        {
            depth += tuple[index] is '(' or '[' ? 1 : tuple[index] is ')' or ']' ? -1 : 0;
            if (depth == 0 && tuple[index] == ',')
            {
                elements.Add(tuple[start..index].Trim());
                start = index + 1;
            }
        }
        elements.Add(tuple[start..^1].Trim());
        return elements;
    }

    private static string Shape(string text, ref int position, Dictionary<string, long> sizes)
    {
        switch (text[position])
        {
            case '[':
                var dims = new List<string>();
                position++;
                while (text[position] != ']')
                {
                    var end = text.IndexOfAny([',', ']'], position);
                    dims.Add(Dim(text[position..end].Trim(), sizes));
                    position = text[end] == ',' ? end + 1 : end;
                }
                position++;
                return "[" + string.Join(", ", dims) + "]";
            case '(':
                var elements = new List<string>();
                position++;
                while (true)
                {
                    elements.Add(Shape(text, ref position, sizes));
                    if (text[position] == ')')
                    {
                        position++;
                        return "(" + string.Join(", ", elements) + ")";
                    }
                    Assert.Equal(", ", text.Substring(position, 2));
                    position += 2;
                }
            case '?':
                position++;
                return "?";
            default:
                var times = text.IndexOf(" × ", position, StringComparison.Ordinal);
                var count = int.Parse(text[position..times], CultureInfo.InvariantCulture);
                position = times + 3;
                var element = Shape(text, ref position, sizes);
                return "(" + string.Join(", ", Enumerable.Repeat(element, count)) + ")";
        }
    }

    private static string Dim(string dim, Dictionary<string, long> sizes) =>
        dim == "?" ? "?" : dim.Split('·').Aggregate(1L, (product, part) =>
            product * (long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : sizes[part])).ToString(CultureInfo.InvariantCulture);
}
