using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace NnSight.Generators.Tests;

/// <summary>Runs <see cref="LanguageModelGenerator"/> in memory on sources and AdditionalFiles.</summary>
internal static class GeneratorHarness
{
    public const string ProjectDirectory = "/project/";

    /// <summary>What an SDK project with ImplicitUsings adds to a console program.</summary>
    public const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    /// <summary>Every assembly the test process trusts (the framework, NnSight, NnSight.Models, TorchSharp).</summary>
    public static ImmutableArray<MetadataReference> References { get; } =
        [.. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => path.EndsWith(".dll", StringComparison.Ordinal))
            .Select(path => MetadataReference.CreateFromFile(path))];

    public static CSharpCompilation Compilation(params string[] sources) => Compilation(References, sources);

    public static CSharpCompilation Compilation(IEnumerable<MetadataReference> references, params string[] sources) =>
        CSharpCompilation.Create("Sample",
            sources.Select((source, index) => CSharpSyntaxTree.ParseText(source, ParseOptions, path: $"/project/Source{index}.cs")),
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver(params (string Path, string Text)[] files) =>
        Driver([.. files.Select(file => (AdditionalText)new InMemoryText(file.Path, file.Text))]);

    public static GeneratorDriver Driver(params AdditionalText[] files) =>
        CSharpGeneratorDriver.Create(
            [new LanguageModelGenerator().AsSourceGenerator()],
            files,
            ParseOptions,
            new ProjectOptions(ProjectDirectory),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator; returns the updated compilation and the generator's own diagnostics.</summary>
    public static (Compilation Output, ImmutableArray<Diagnostic> Diagnostics, GeneratorDriverRunResult Run) Run(
        string source, params (string Path, string Text)[] files) => Run(References, source, files);

    /// <summary>Runs the generator on a compilation with only <paramref name="references"/>.</summary>
    public static (Compilation Output, ImmutableArray<Diagnostic> Diagnostics, GeneratorDriverRunResult Run) Run(
        IEnumerable<MetadataReference> references, string source, params (string Path, string Text)[] files)
    {
        var driver = Driver(files).RunGeneratorsAndUpdateCompilation(Compilation(references, source), out var output, out var diagnostics);
        return (output, diagnostics, driver.GetRunResult());
    }

    /// <summary>
    /// Compiles <paramref name="sources"/> as a project of <paramref name="kind"/> with <paramref name="configs"/> as its
    /// AdditionalFiles, runs the generator and then every analyzer; returns the generated compilation, the generator's
    /// diagnostics and the analyzers'.
    /// </summary>
    public static async Task<(Compilation Output, ImmutableArray<Diagnostic> Generator, ImmutableArray<Diagnostic> Analyzers)> AnalyzeProjectAsync(
        OutputKind kind, IEnumerable<(string Path, string Text)> sources, params (string Path, string Text)[] configs)
    {
        var compilation = CSharpCompilation.Create("Project",
            sources.Select(source => CSharpSyntaxTree.ParseText(source.Text, ParseOptions, source.Path, Encoding.UTF8)),
            References,
            new CSharpCompilationOptions(kind, nullableContextOptions: NullableContextOptions.Enable));
        Driver(configs).RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        return (output, generatorDiagnostics, await output.WithAnalyzers(AnalyzerVerifier.AllAnalyzers).GetAnalyzerDiagnosticsAsync());
    }

    /// <summary>An AdditionalFiles item held in memory.</summary>
    public sealed class InMemoryText(string path, string text) : AdditionalText
    {
        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text, Encoding.UTF8);
    }

    private sealed class ProjectOptions(string projectDirectory) : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions { get; } = new Options(new Dictionary<string, string> { ["build_property.ProjectDir"] = projectDirectory });

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => new Options([]);

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => new Options([]);

        private sealed class Options(Dictionary<string, string> values) : AnalyzerConfigOptions
        {
            public override bool TryGetValue(string key, out string value) => values.TryGetValue(key, out value!);
        }
    }
}
