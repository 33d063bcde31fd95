using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;
using NnSight.Generators.Analyzers;
using NnSight.TestSupport;

namespace NnSight.Generators.Tests;

/// <summary>
/// Runs an analyzer (and optionally a code fix) on marked-up source (<c>{|NNS0101:...|}</c>) with the real NnSight
/// runtime and the generated GPT-2 and Llama classes of the snapshot tests. Offline: references come from the running
/// process, not from NuGet.
/// </summary>
internal static class AnalyzerVerifier
{
    private static readonly string Snapshots = Path.Combine(RepositoryPaths.Root, "tests", "NnSight.Generators.Tests", "Snapshots");

    /// <summary>The generated classes the test sources use: <c>Models.ModelGpt2</c> (12 layers), <c>Models.ModelLlama318b</c>.</summary>
    public static ImmutableArray<(string Name, string Source)> GeneratedModels { get; } =
    [
        ("ModelGpt2.g.cs", File.ReadAllText(Path.Combine(Snapshots, "gpt2.verified.cs"))),
        ("ModelLlama318b.g.cs", File.ReadAllText(Path.Combine(Snapshots, "llama-3.1-8b.verified.cs"))),
    ];

    /// <summary>Every usage analyzer, for tests of whole programs.</summary>
    public static ImmutableArray<DiagnosticAnalyzer> AllAnalyzers { get; } =
    [
        new ModuleIndexOutOfRangeAnalyzer(),
        new ValueReadInsideTraceAnalyzer(),
        new ValueNeverSavedAnalyzer(),
        new ModuleAccessOutsideInvokeAnalyzer(),
        new TooManyNextCallsAnalyzer(),
        new AccessOutOfForwardOrderAnalyzer(),
        new LocalCodeInRemoteTraceAnalyzer(),
        new GradientWithoutBackwardAnalyzer(),
        new ModuleAccessAfterStopAnalyzer(),
        new ValueOrValuesMismatchAnalyzer(),
        new ShapeMismatchAnalyzer(),
    ];

    /// <summary>What all usage analyzers report on <paramref name="program"/>, which must compile (with the generated models).</summary>
    public static async Task<ImmutableArray<Diagnostic>> AllDiagnosticsAsync(string program)
    {
        var options = new CSharpParseOptions(LanguageVersion.Latest);
        var compilation = CSharpCompilation.Create("Program",
            [CSharpSyntaxTree.ParseText(program, options, "/project/Program.cs"),
             .. GeneratedModels.Select(model => CSharpSyntaxTree.ParseText(model.Source, options, model.Name))],
            GeneratorHarness.References,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        Assert.Empty(compilation.GetDiagnostics().Where(diagnostic => diagnostic.Severity == DiagnosticSeverity.Error));
        return await compilation.WithAnalyzers(AllAnalyzers).GetAnalyzerDiagnosticsAsync();
    }

    public static Task VerifyAsync<TAnalyzer>(string markup, params DiagnosticResult[] expected)
        where TAnalyzer : DiagnosticAnalyzer, new()
    {
        // A rule with several messages has a descriptor per message; {|ID:...|} marks the id and span, not the message.
        var test = new CSharpAnalyzerTest<TAnalyzer, DefaultVerifier> { TestCode = markup, MarkupOptions = MarkupOptions.UseFirstDescriptor };
        test.ExpectedDiagnostics.AddRange(expected);
        Configure(test.TestState);
        test.ReferenceAssemblies = ReferenceAssemblies;
        return test.RunAsync();
    }

    public static Task VerifyFixAsync<TAnalyzer, TFix>(string markup, string fixedSource)
        where TAnalyzer : DiagnosticAnalyzer, new()
        where TFix : CodeFixProvider, new()
    {
        var test = new CSharpCodeFixTest<TAnalyzer, TFix, DefaultVerifier> { TestCode = markup, FixedCode = fixedSource };
        Configure(test.TestState);
        Configure(test.FixedState);
        test.ReferenceAssemblies = ReferenceAssemblies;
        return test.RunAsync();
    }

    private static ReferenceAssemblies ReferenceAssemblies { get; } = new("net10.0-local");

    private static void Configure(SolutionState state)
    {
        state.OutputKind = OutputKind.ConsoleApplication;
        foreach (var (name, source) in GeneratedModels)
        {
            state.Sources.Add((name, source));
        }
        state.AdditionalReferences.AddRange(GeneratorHarness.References);
    }
}
