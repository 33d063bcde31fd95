using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using NnSight.Generators;

namespace NnSight.Benchmarks;

/// <summary>
/// The source generator on the 80-layer Llama-3.1-70B config: a cold run (new driver) and an incremental run after an
/// edit elsewhere in the project (what the IDE does on every keystroke).
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class GeneratorBenchmarks
{
    private const string ConfigPath = "/project/models/llama/config.json";
    private CSharpCompilation _compilation = null!;
    private CSharpCompilation _edited = null!;
    private AdditionalText _config = null!;
    private GeneratorDriver _warm = null!;

    [GlobalSetup]
    public void Setup()
    {
        var root = BenchmarkPaths.RepositoryRoot();
        _config = new Text(ConfigPath, File.ReadAllText(Path.Combine(root, "tests", "NnSight.Generators.Tests", "Configs", "llama-3.1-70b.json")));
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => path.EndsWith(".dll", StringComparison.Ordinal)).Select(path => MetadataReference.CreateFromFile(path));
        var model = CSharpSyntaxTree.ParseText("""[NnSight.LanguageModel("models/llama/config.json")] public partial class Llama70B;""", path: "/project/Model.cs");
        var other = CSharpSyntaxTree.ParseText("public static class Other { public static int Value => 1; }", path: "/project/Other.cs");
        _compilation = CSharpCompilation.Create("Bench", [model, other], references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        _edited = _compilation.ReplaceSyntaxTree(other,
            CSharpSyntaxTree.ParseText("public static class Other { public static int Value => 2; }", path: "/project/Other.cs"));
        _warm = NewDriver().RunGenerators(_compilation);
    }

    [Benchmark(Description = "cold, 80 layers")]
    public GeneratorDriver Cold() => NewDriver().RunGenerators(_compilation);

    [Benchmark(Description = "incremental, unrelated edit")]
    public GeneratorDriver Incremental() => _warm.RunGenerators(_edited);

    private GeneratorDriver NewDriver() =>
        CSharpGeneratorDriver.Create([new LanguageModelGenerator().AsSourceGenerator()], [_config], optionsProvider: new Options());

    private sealed class Text(string path, string text) : AdditionalText
    {
        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text, Encoding.UTF8);
    }

    private sealed class Options : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions { get; } = new Values(new() { ["build_property.ProjectDir"] = "/project/" });

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => new Values([]);

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => new Values([]);

        private sealed class Values(Dictionary<string, string> values) : AnalyzerConfigOptions
        {
            public override bool TryGetValue(string key, out string value) => values.TryGetValue(key, out value!);
        }
    }
}
