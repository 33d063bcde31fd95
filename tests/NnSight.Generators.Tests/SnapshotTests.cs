using Microsoft.CodeAnalysis;
using NnSight.TestSupport;

namespace NnSight.Generators.Tests;

/// <summary>
/// One checked-in snapshot per real HuggingFace config.json: the generated source must equal
/// <c>Snapshots/&lt;config&gt;.verified.cs</c>; a mismatch writes <c>.received.cs</c> next to it.
/// </summary>
public sealed class SnapshotTests
{
    private static string Snapshots => Path.Combine(RepositoryPaths.Root, "tests", "NnSight.Generators.Tests", "Snapshots");

    [Theory]
    [InlineData("gpt2")]
    [InlineData("gpt2-large")]
    [InlineData("llama-3.1-8b")]
    [InlineData("llama-3.1-70b")]
    [InlineData("qwen2.5-0.5b")]
    [InlineData("mixtral-8x7b-v0.1")]
    [InlineData("phi-2")]
    public void The_generated_source_equals_the_snapshot_and_compiles_against_the_runtime(string config)
    {
        var (output, diagnostics, run) = GeneratorHarness.Run(
            $$"""
            namespace Models;

            [NnSight.LanguageModel("configs/{{config}}.json")]
            public partial class Model{{Name(config)}};
            """,
            ($"/project/configs/{config}.json", File.ReadAllText(Path.Combine(RepositoryPaths.Configs, config + ".json"))));

        Assert.Empty(diagnostics);
        var generated = Assert.Single(run.Results[0].GeneratedSources).SourceText.ToString();
        var errors = output.GetDiagnostics().Where(diagnostic => diagnostic.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors.Take(10)));
        AssertSnapshot(config, generated);
    }

    private static string Name(string config) => Naming.ToTypeName(config.Replace('-', '_').Replace('.', '_'));

    private static void AssertSnapshot(string name, string actual)
    {
        var verified = Path.Combine(Snapshots, name + ".verified.cs");
        var received = Path.Combine(Snapshots, name + ".received.cs");
        var expected = File.Exists(verified) ? File.ReadAllText(verified) : null;
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }
        Directory.CreateDirectory(Snapshots);
        File.WriteAllText(received, actual);
        Assert.Fail($"The generated source differs from {verified}; compare it with {received} (diff -u) and move it over if the change is right.");
    }
}
