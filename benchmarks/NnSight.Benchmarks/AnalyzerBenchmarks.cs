using System.Collections.Immutable;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using NnSight.Generators.Analyzers;

namespace NnSight.Benchmarks;

/// <summary>
/// The seven usage analyzers on a 2,000-line file of traces (100 methods of 20 lines: saves, patches, generation with
/// Next(), reads after the run) against the generated GPT-2 class.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class AnalyzerBenchmarks
{
    private const string Method = """
            // Trace {0}: a patch, two saves and a generation step.
            internal static void Trace{0}(ModelGpt2 model)
            {{
                TensorProxy hidden, patched;
                using (var gen = model.Generate(maxNewTokens: 3))
                using (var invoker = gen.Invoke("The Eiffel Tower is in the city of"))
                {{
                    var clean = model.Transformer.H[2].Output[0];
                    model.Transformer.H[4].Output[0][.., 3] = clean[.., 3];
                    hidden = model.Transformer.H[^1].Output.HiddenStates.Save();
                    invoker.Next();
                    patched = model.LmHead.Output[.., ^1].softmax(-1).Save();
                }}
                for (var layer = 0; layer < 12; layer++)
                {{
                    var block = model.Transformer.H[layer];
                }}
                hidden.Value.Dispose();
                patched.Value.Dispose();
            }}

        """;

    private static readonly ImmutableArray<DiagnosticAnalyzer> Analyzers =
    [
        new ModuleIndexOutOfRangeAnalyzer(), new ValueReadInsideTraceAnalyzer(), new ValueNeverSavedAnalyzer(),
        new ModuleAccessOutsideInvokeAnalyzer(), new TooManyNextCallsAnalyzer(), new AccessOutOfForwardOrderAnalyzer(),
        new LocalCodeInRemoteTraceAnalyzer(),
    ];

    private CSharpCompilation _compilation = null!;

    [GlobalSetup]
    public void Setup()
    {
        var source = new StringBuilder("using Models;\nusing NnSight;\n\ninternal static class Traces\n{\n");
        for (var method = 0; method < 100; method++)
        {
            source.AppendFormat(System.Globalization.CultureInfo.InvariantCulture, Method, method);
        }
        source.Append("}\n");
        var generated = File.ReadAllText(Path.Combine(Root(), "tests", "NnSight.Generators.Tests", "Snapshots", "gpt2.verified.cs"));
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => path.EndsWith(".dll", StringComparison.Ordinal)).Select(path => MetadataReference.CreateFromFile(path));
        _compilation = CSharpCompilation.Create("Traces",
            [CSharpSyntaxTree.ParseText(source.ToString(), path: "Traces.cs"), CSharpSyntaxTree.ParseText(generated, path: "ModelGpt2.g.cs")],
            references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var lines = source.ToString().Count(c => c == '\n');
        var errors = _compilation.GetDiagnostics().Where(diagnostic => diagnostic.Severity == DiagnosticSeverity.Error).ToList();
        if (lines < 2000 || errors.Count > 0 || Analyze().Length > 0)
        {
            throw new InvalidOperationException($"The benchmark file has {lines} lines, {errors.Count} errors ({errors.FirstOrDefault()}) and must be clean.");
        }
    }

    /// <summary>The compiler alone on a fresh copy of the compilation (binding included).</summary>
    [Benchmark(Baseline = true, Description = "compiler only, 2,000 lines")]
    public ImmutableArray<Diagnostic> Compile() => _compilation.Clone().GetDiagnostics();

    /// <summary>The compiler and the six analyzers on a fresh copy; the difference is the analyzers' time.</summary>
    [Benchmark(Description = "compiler + 7 analyzers, 2,000 lines")]
    public ImmutableArray<Diagnostic> CompileAndAnalyze() =>
        _compilation.Clone().WithAnalyzers(Analyzers).GetAllDiagnosticsAsync().GetAwaiter().GetResult();

    private ImmutableArray<Diagnostic> Analyze() =>
        _compilation.WithAnalyzers(Analyzers).GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();

    private static string Root()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "NnSight.Generators.sln")))
            {
                return folder.FullName;
            }
        }
        throw new DirectoryNotFoundException("The repository root was not found.");
    }
}
