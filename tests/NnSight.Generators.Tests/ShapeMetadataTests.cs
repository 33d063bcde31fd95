using System.Text.RegularExpressions;
using NnSight.Generators.Analyzers;
using NnSight.TestSupport;

namespace NnSight.Generators.Tests;

/// <summary>
/// The <c>[Shape]</c> metadata reads as the docs do: NNS0111 writes a shape back exactly as the attribute wrote it, and
/// the hover text of the member names the same shape, so the IDE's docs and the diagnostic use the same words.
/// </summary>
public sealed partial class ShapeMetadataTests
{
    public static TheoryData<string> Snapshots => [.. Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "tests", "NnSight.Generators.Tests", "Snapshots"), "*.verified.cs")
        .Select(path => Path.GetFileName(path)).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Snapshots))]
    public void Every_shape_reads_back_as_written_and_its_docs_name_it(string snapshot)
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryPaths.Root, "tests", "NnSight.Generators.Tests", "Snapshots", snapshot));
        for (var index = 0; index < lines.Length; index++)
        {
            if (ShapeAttribute().Match(lines[index]) is not { Success: true } match)
            {
                continue;
            }
            var docs = lines.Take(index).Last(line => line.TrimStart().StartsWith("/// <summary>", StringComparison.Ordinal));
            foreach (var shape in new[] { match.Groups["shape"], match.Groups["input"] }.Where(group => group.Success).Select(group => group.Value))
            {
                Assert.Equal(shape, SymbolicShape.Parse(shape)?.ToString());
            }
            if (match.Groups["shape"].Value.StartsWith('['))
            {
                Assert.Contains(match.Groups["shape"].Value, docs, StringComparison.Ordinal);
            }
            if (match.Groups["input"].Success)
            {
                Assert.Matches($@"Input( of each)?: {Regex.Escape(match.Groups["input"].Value)}\.", docs);
            }
        }
    }

    [Fact]
    public void Only_architectures_that_NnSight_Models_implements_carry_shapes()
    {
        var snapshots = Path.Combine(RepositoryPaths.Root, "tests", "NnSight.Generators.Tests", "Snapshots");

        Assert.Contains("[global::NnSight.Shape(", File.ReadAllText(Path.Combine(snapshots, "qwen2.5-0.5b.verified.cs")), StringComparison.Ordinal);
        Assert.DoesNotContain("[global::NnSight.Shape(", File.ReadAllText(Path.Combine(snapshots, "phi-2.verified.cs")), StringComparison.Ordinal);
        Assert.DoesNotContain("[global::NnSight.Shape(", File.ReadAllText(Path.Combine(snapshots, "mixtral-8x7b-v0.1.verified.cs")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[batch, seq, 768]")]
    [InlineData("[batch·seq, 8]")]
    [InlineData("[]")]
    [InlineData("([batch, seq, 768], 12 × ([batch, 12, past+seq, 64], [batch, 12, past+seq, 64]))")]
    [InlineData("(?, [tokens, 4096])")]
    public void The_symbolic_form_reads_back_as_written(string shape) =>
        Assert.Equal(shape, SymbolicShape.Parse(shape)?.ToString());

    [Theory]
    [InlineData("[batch, seq")]
    [InlineData("(batch)")]
    [InlineData("[batch, -1]")]
    [InlineData("12 × ")]
    public void Text_outside_the_symbolic_form_is_no_shape(string text) =>
        Assert.Null(SymbolicShape.Parse(text));

    [GeneratedRegex(@"\[global::NnSight\.Shape\(""(?<shape>[^""]*)""(, Input = ""(?<input>[^""]*)"")?(, Elementwise = true)?\)\]")]
    private static partial Regex ShapeAttribute();
}
