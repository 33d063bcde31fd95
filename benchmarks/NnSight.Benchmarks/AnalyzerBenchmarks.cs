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
/// Next(), reads after the run) against the generated GPT-2 class, and the same with the shape rule NNS0111, whose
/// cost is the difference. <see cref="AnalyzerTimes"/> reports each analyzer's own time as Roslyn measures it.
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

    private static readonly ImmutableArray<DiagnosticAnalyzer> WithShapes = Analyzers.Add(new ShapeMismatchAnalyzer());

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
        var generated = File.ReadAllText(Path.Combine(BenchmarkPaths.RepositoryRoot(), "tests", "NnSight.Generators.Tests", "Snapshots", "gpt2.verified.cs"));
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => path.EndsWith(".dll", StringComparison.Ordinal)).Select(path => MetadataReference.CreateFromFile(path));
        _compilation = CSharpCompilation.Create("Traces",
            [CSharpSyntaxTree.ParseText(source.ToString(), path: "Traces.cs"), CSharpSyntaxTree.ParseText(generated, path: "ModelGpt2.g.cs")],
            references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var lines = source.ToString().Count(c => c == '\n');
        var errors = _compilation.GetDiagnostics().Where(diagnostic => diagnostic.Severity == DiagnosticSeverity.Error).ToList();
        if (lines < 2000 || errors.Count > 0 || Analyze(WithShapes).Length > 0)
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

    /// <summary>The compiler, the seven analyzers and NNS0111 on a fresh copy.</summary>
    [Benchmark(Description = "compiler + 7 analyzers + NNS0111, 2,000 lines")]
    public ImmutableArray<Diagnostic> CompileAndAnalyzeShapes() =>
        _compilation.Clone().WithAnalyzers(WithShapes).GetAllDiagnosticsAsync().GetAwaiter().GetResult();

    /// <summary>
    /// Each analyzer's own execution time on the benchmark file, as Roslyn's telemetry measures it (concurrent
    /// execution off, so no time is shared out): the median over <paramref name="rounds"/> fresh copies after five
    /// warm-up rounds, so a busy machine's slow rounds count less than in a mean.
    /// </summary>
    public static void AnalyzerTimes(int rounds)
    {
        var benchmark = new AnalyzerBenchmarks();
        benchmark.Setup();
        var times = WithShapes.ToDictionary(analyzer => analyzer, _ => new List<double>());
        for (var round = -5; round < rounds; round++)
        {
            var options = new CompilationWithAnalyzersOptions(new AnalyzerOptions([]), null, concurrentAnalysis: false, logAnalyzerExecutionTime: true);
            var analyzed = benchmark._compilation.Clone().WithAnalyzers(WithShapes, options);
            analyzed.GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
            if (round < 0)
            {
                continue;
            }
            foreach (var analyzer in WithShapes)
            {
                times[analyzer].Add(analyzed.GetAnalyzerTelemetryInfoAsync(analyzer, CancellationToken.None).GetAwaiter().GetResult().ExecutionTime.TotalMilliseconds);
            }
        }
        foreach (var (analyzer, values) in times)
        {
            Console.WriteLine($"{analyzer.GetType().Name,-36} {Median(values),8:F1} ms");
        }
        var totals = Enumerable.Range(0, rounds).Select(round => times.Values.Sum(values => values[round])).ToList();
        Console.WriteLine($"{"all",-36} {Median(totals),8:F1} ms per compilation of the 2,000-line file (median of {rounds})");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private ImmutableArray<Diagnostic> Analyze(ImmutableArray<DiagnosticAnalyzer> analyzers) =>
        _compilation.WithAnalyzers(analyzers).GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
}
