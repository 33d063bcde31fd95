using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NnSight.Generators.Model;
using NnSight.TestSupport;

namespace NnSight.Generators.Tests;

/// <summary>The incremental pipeline's discipline: cached steps and a model free of Roslyn types.</summary>
public sealed class PipelineTests
{
    private const string Source = """
        namespace Sample;

        [NnSight.LanguageModel("models/gpt2/config.json")]
        public partial class Gpt2;
        """;

    private static readonly string[] TrackedSteps =
    [
        LanguageModelGenerator.Steps.Requests,
        LanguageModelGenerator.Steps.ConfigFiles,
        LanguageModelGenerator.Steps.ProjectDirectory,
        LanguageModelGenerator.Steps.Inputs,
        LanguageModelGenerator.Steps.Parsed,
        LanguageModelGenerator.Steps.Models,
    ];

    [Fact]
    public void An_unrelated_edit_leaves_every_tracked_step_cached()
    {
        var config = File.ReadAllText(Path.Combine(RepositoryPaths.Configs, "gpt2.json"));
        var compilation = GeneratorHarness.Compilation(Source, "namespace Sample; public static class Other { public static int Value => 1; }");
        var driver = GeneratorHarness.Driver(("/project/models/gpt2/config.json", config)).RunGenerators(compilation);

        var edited = compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Last(),
            CSharpSyntaxTree.ParseText("namespace Sample; public static class Other { public static int Value => 2; }",
                (CSharpParseOptions)compilation.SyntaxTrees.First().Options, compilation.SyntaxTrees.Last().FilePath));
        var result = driver.RunGenerators(edited).GetRunResult().Results.Single();

        foreach (var step in TrackedSteps)
        {
            var outputs = result.TrackedSteps[step].SelectMany(run => run.Outputs);
            Assert.All(outputs, output => Assert.True(output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                $"{step} was {output.Reason}"));
        }
        Assert.All(result.TrackedOutputSteps.SelectMany(step => step.Value).SelectMany(run => run.Outputs),
            output => Assert.Equal(IncrementalStepRunReason.Cached, output.Reason));
    }

    [Fact]
    public void Changing_the_config_regenerates_the_tree()
    {
        var config = File.ReadAllText(Path.Combine(RepositoryPaths.Configs, "gpt2.json"));
        var compilation = GeneratorHarness.Compilation(Source);
        var original = new GeneratorHarness.InMemoryText("/project/models/gpt2/config.json", config);
        var driver = GeneratorHarness.Driver(original).RunGenerators(compilation);
        var before = driver.GetRunResult().Results.Single().GeneratedSources.Single().SourceText.ToString();

        driver = driver.ReplaceAdditionalText(original,
            new GeneratorHarness.InMemoryText(original.Path, config.Replace("\"n_layer\": 12", "\"n_layer\": 6", StringComparison.Ordinal)));
        var after = driver.RunGenerators(compilation).GetRunResult().Results.Single().GeneratedSources.Single().SourceText.ToString();

        Assert.Contains("ModuleList(\"transformer.h\", 12,", before, StringComparison.Ordinal);
        Assert.Contains("ModuleList(\"transformer.h\", 6,", after, StringComparison.Ordinal);
    }

    [Fact]
    public void The_pipeline_model_holds_no_roslyn_types()
    {
        var roslyn = typeof(Compilation).Assembly;
        var seen = new HashSet<Type>();
        var pending = new Stack<Type>([typeof(ParseInput), typeof(ParseResult), typeof(ModelSpec), typeof(ConfigFile)]);
        while (pending.Count > 0)
        {
            var type = pending.Pop();
            if (!seen.Add(type))
            {
                continue;
            }
            Assert.False(type.Assembly == roslyn || type.Assembly.GetName().Name!.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal),
                $"{type} is a Roslyn type in the pipeline model.");
            foreach (var member in type.GetProperties(BindingFlags.Instance | BindingFlags.Public).Select(property => property.PropertyType)
                .Concat(type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Select(field => field.FieldType))
                .Concat(type.IsGenericType ? type.GetGenericArguments() : [])
                .Concat(type.IsArray ? [type.GetElementType()!] : []))
            {
                pending.Push(Nullable.GetUnderlyingType(member) ?? member);
            }
        }
        Assert.Contains(typeof(ModuleSpec), seen);
        Assert.Contains(typeof(EquatableArray<ModuleSpec>), seen);
    }
}
