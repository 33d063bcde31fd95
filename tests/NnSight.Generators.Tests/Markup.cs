using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace NnSight.Generators.Tests;

/// <summary>Source with <c>{|ID:text|}</c> markers: the plain source and the diagnostics it expects (id and span).</summary>
internal sealed partial record Markup(string Source, IReadOnlyList<(string Id, TextSpan Span)> Expected)
{
    public static Markup Parse(string marked)
    {
        var expected = new List<(string, TextSpan)>();
        var source = new System.Text.StringBuilder();
        var last = 0;
        foreach (Match match in Marker().Matches(marked))
        {
            source.Append(marked, last, match.Index - last);
            expected.Add((match.Groups["id"].Value, new TextSpan(source.Length, match.Groups["text"].Length)));
            source.Append(match.Groups["text"].Value);
            last = match.Index + match.Length;
        }
        source.Append(marked, last, marked.Length - last);
        return new Markup(source.ToString(), expected);
    }

    /// <summary>Asserts that <paramref name="actual"/> are exactly the marked diagnostics.</summary>
    public void AssertDiagnostics(IEnumerable<Diagnostic> actual) =>
        Assert.Equal(
            Expected.Select(item => $"{item.Id} {item.Span}").Order(StringComparer.Ordinal),
            actual.Select(diagnostic => $"{diagnostic.Id} {diagnostic.Location.SourceSpan}").Order(StringComparer.Ordinal));

    [GeneratedRegex(@"\{\|(?<id>NNS\d{4}):(?<text>.*?)\|\}", RegexOptions.Singleline)]
    private static partial Regex Marker();
}
