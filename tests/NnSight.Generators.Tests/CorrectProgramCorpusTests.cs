using System.Collections.Immutable;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using NnSight.TestSupport;

namespace NnSight.Generators.Tests;

/// <summary>
/// The correct programs the repository already holds — every sample, every C# snippet of the README and the package
/// README, the typed end-to-end test files — compile with the generator and get no diagnostic from any analyzer. A
/// rule that fires here fires on correct code.
/// </summary>
public sealed partial class CorrectProgramCorpusTests
{

    public static TheoryData<string> Samples => [.. Directory.GetDirectories(Path.Combine(RepositoryPaths.Root, "samples"))
        .Where(folder => File.Exists(Path.Combine(folder, "Program.cs"))).Select(folder => Path.GetFileName(folder)!).Order(StringComparer.Ordinal)];

    public static TheoryData<string> Snippets => [.. SnippetsOf("README.md").Concat(SnippetsOf(Path.Combine("docs", "package-readme.md")))
        .Select(snippet => snippet.Name)];

    [Theory]
    [MemberData(nameof(Samples))]
    public async Task Every_sample_compiles_without_a_diagnostic(string sample)
    {
        var folder = Path.Combine(RepositoryPaths.Root, "samples", sample);
        var diagnostics = await AnalyzeAsync(OutputKind.ConsoleApplication,
            [(Path.Combine(folder, "Program.cs"), File.ReadAllText(Path.Combine(folder, "Program.cs"))),
             .. Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "samples", "Shared"), "*.cs").Order(StringComparer.Ordinal)
                 .Select(path => (Path.GetFileName(path), File.ReadAllText(path))),
             ("GlobalUsings.cs", GeneratorHarness.ImplicitUsings)]);

        Assert.Empty(diagnostics);
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public async Task Every_readme_snippet_compiles_without_a_diagnostic(string snippet)
    {
        var (_, text) = SnippetsOf("README.md").Concat(SnippetsOf(Path.Combine("docs", "package-readme.md"))).Single(item => item.Name == snippet);
        var diagnostics = await AnalyzeAsync(OutputKind.ConsoleApplication, SnippetProgram(text));

        Assert.Empty(diagnostics);
    }

    [Fact]
    public async Task The_typed_end_to_end_tests_compile_without_a_diagnostic()
    {
        var folder = Path.Combine(RepositoryPaths.Root, "tests", "NnSight.EndToEnd.Tests");
        var sources = Directory.GetFiles(folder, "*.cs").Order(StringComparer.Ordinal).Select(path => (path, File.ReadAllText(path)))
            .Append(("GlobalUsings.cs", GeneratorHarness.ImplicitUsings + "\nglobal using Xunit;\n"));

        var diagnostics = await AnalyzeAsync(OutputKind.DynamicallyLinkedLibrary, sources);

        Assert.Empty(diagnostics);
    }

    /// <summary>
    /// Generates the typed classes the sources declare (each config read from the repository) and runs every analyzer
    /// on the sources, which must compile without an error.
    /// </summary>
    private static async Task<ImmutableArray<Diagnostic>> AnalyzeAsync(OutputKind kind, IEnumerable<(string Path, string Text)> sources)
    {
        var files = sources.ToList();
        var configs = files.SelectMany(source => LanguageModelAttribute().Matches(source.Text).Select(match => (Source: source.Path, Config: match.Groups["path"].Value)))
            .Select(found => (Path: GeneratorHarness.ProjectDirectory + found.Config, Text: File.ReadAllText(ConfigFile(found.Config, found.Source))))
            .DistinctBy(config => config.Path)
            .ToArray();
        var (output, generatorDiagnostics, analyzerDiagnostics) = await GeneratorHarness.AnalyzeProjectAsync(kind, files, configs);

        Assert.Empty(generatorDiagnostics);
        var errors = output.GetDiagnostics().Where(diagnostic => diagnostic.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors.Take(10)));
        return analyzerDiagnostics;
    }

    /// <summary>The repository file an attribute's config path names: from the root, from <c>models/</c>, or beside the source.</summary>
    private static string ConfigFile(string config, string source) =>
        new[] { Path.Combine(RepositoryPaths.Root, config), Path.Combine(RepositoryPaths.Root, "models", config), Path.Combine(Path.GetDirectoryName(source) ?? "", config) }
            .FirstOrDefault(File.Exists) ?? throw new FileNotFoundException($"No repository file for the config '{config}' of {source}.");

    /// <summary>The C# blocks of a Markdown file, named <c>file#n</c>.</summary>
    private static IEnumerable<(string Name, string Text)> SnippetsOf(string markdown) =>
        CSharpBlock().Matches(File.ReadAllText(Path.Combine(RepositoryPaths.Root, markdown)))
            .Select((match, index) => ($"{markdown.Replace('\\', '/')}#{index + 1}", match.Groups["code"].Value));

    /// <summary>
    /// A snippet as a program: its usings first, then declarations of what the surrounding prose provides (<c>model</c>,
    /// a typed <c>Gpt2</c> of the published config, <c>prompt</c>, <c>steer</c>, proxies declared earlier, the plotted
    /// tensors and labels), its statements,
    /// and its type declarations in a file of their own.
    /// </summary>
    private static IEnumerable<(string Path, string Text)> SnippetProgram(string snippet)
    {
        var lines = snippet.Split('\n');
        var usings = lines.TakeWhile(line => UsingDirective().IsMatch(line) || line.Trim().Length == 0).ToList();
        var body = lines.Skip(usings.Count).ToList();
        var types = new List<string>();
        for (var index = 0; index < body.Count; index++)
        {
            if (body[index].TrimStart().StartsWith("[LanguageModel(", StringComparison.Ordinal))
            {
                types.AddRange(body.GetRange(index, 2));
                body.RemoveRange(index, 2);
                index--;
            }
        }
        var statements = string.Join("\n", body);
        var prelude = new StringBuilder();
        if (!Declares(statements, "model"))
        {
            prelude.AppendLine("using var model = Gpt2.FromPretrained(\"models/gpt2\");");
        }
        if (!types.Any(line => line.Contains("class Gpt2", StringComparison.Ordinal)) && (prelude.Length > 0 || statements.Contains("Gpt2", StringComparison.Ordinal)))
        {
            types.AddRange(["[LanguageModel(\"models/gpt2/config.json\")]", "public partial class Gpt2;"]);
        }
        foreach (var (name, declaration) in new[]
        {
            ("prompt", "string prompt = \"The Eiffel Tower is in the city of\";"),
            ("steer", "Tensor steer = zeros(768);"),
            ("hidden", "TensorProxy hidden = null!;"),
            ("logits", "TensorProxy logits = null!;"),
            ("first", "TensorProxy first = null!;"),
            ("tokenizer", "NnSight.Models.Tokenization.ModelTokenizer tokenizer = null!;"),
            ("tokens", "string[] tokens = [];"),
            ("probabilities", "Tensor probabilities = zeros(12, 10, 50257);"),
            ("results", "Tensor results = zeros(12, 10);"),
            ("layerNames", "string[] layerNames = [];"),
            ("weights", "Tensor weights = zeros(1, 12, 10, 10);"),
            ("layers", "int layers = 12;"),
            ("RunOneLayer", "static void RunOneLayer(int layer) { }"),
        })
        {
            if (Regex.IsMatch(statements, $@"\b{name}\b") && !Declares(statements, name))
            {
                prelude.AppendLine(declaration);
            }
        }
        return
        [
            ("/project/Program.cs", string.Join("\n", usings) + "\n" + prelude + statements),
            ("/project/Types.cs", "using NnSight;\n\n" + string.Join("\n", types)),
            ("/project/GlobalUsings.cs", GeneratorHarness.ImplicitUsings + "\nglobal using NnSight;\nglobal using NnSight.Models;\nglobal using TorchSharp;\nglobal using static TorchSharp.torch;\n"),
        ];
    }

    // After a type: `T name =`, `T name;`, `T name,`; after a comma, the last of a list: `T a, name;` (a middle
    // `, name,` is an argument list as often as a declaration).
    private static bool Declares(string statements, string name) =>
        Regex.IsMatch(statements, $@"[\w\]>?][ \t]+{name}\b\s*[=;,]|,[ \t]*{name}\b\s*[=;]");

    [GeneratedRegex(@"\[LanguageModel\(""(?<path>[^""]+)""\)\]")]
    private static partial Regex LanguageModelAttribute();

    [GeneratedRegex(@"```csharp\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"^using (static )?[\w.]+;")]
    private static partial Regex UsingDirective();
}
