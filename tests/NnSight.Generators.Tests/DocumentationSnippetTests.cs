using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using NnSight.TestSupport;

namespace NnSight.Generators.Tests;

/// <summary>
/// Every concept page under docs/ carries at least one snippet marked <c>&lt;!-- snippet --&gt;</c>: a whole program
/// (top-level statements and the typed model class) that compiles as a console project would compile it, with the
/// generator reading the bundled config.json, without an error, a warning or an analyzer diagnostic.
/// </summary>
public sealed class DocumentationSnippetTests
{
    private static readonly Regex Snippet = new(@"<!-- snippet -->\n```csharp\n(?<code>.*?)```", RegexOptions.Singleline);

    public static TheoryData<string> Pages =>
        ["tracing.md", "invocations.md", "generation.md", "setting.md", "remote.md", "server.md", "generator.md", "analyzers.md", "plotting.md", "progress.md"];

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task A_concept_page_has_snippets_that_compile_without_any_diagnostic(string page)
    {
        var text = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", page)).ReplaceLineEndings("\n");
        var snippets = Snippet.Matches(text).Select(match => match.Groups["code"].Value).ToList();

        Assert.NotEmpty(snippets);
        foreach (var snippet in snippets)
        {
            var problems = await DiagnosticsAsync(snippet);
            Assert.True(problems.Count == 0, $"docs/{page}:\n{string.Join("\n", problems)}");
        }
    }

    private static async Task<List<string>> DiagnosticsAsync(string program)
    {
        var config = File.ReadAllText(Path.Combine(RepositoryPaths.TinyGpt2, "config.json"));
        var (generated, generatorDiagnostics, analyzers) = await GeneratorHarness.AnalyzeProjectAsync(OutputKind.ConsoleApplication,
            [("/project/Program.cs", program), ("/project/Usings.cs", GeneratorHarness.ImplicitUsings)],
            ("/project/models/tiny-gpt2/config.json", config));
        return [.. generatorDiagnostics.Concat(generated.GetDiagnostics()).Concat(analyzers)
            .Where(diagnostic => diagnostic.Severity >= DiagnosticSeverity.Warning)
            .Select(diagnostic => diagnostic.ToString())];
    }
}
