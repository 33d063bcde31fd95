using Microsoft.CodeAnalysis;
using NnSight.TestSupport;

namespace NnSight.Generators.Tests;

/// <summary>One test per generator diagnostic, with the expected location marked in the source.</summary>
public sealed class DiagnosticTests
{
    private static readonly string Gpt2 = File.ReadAllText(Path.Combine(RepositoryPaths.Configs, "gpt2.json"));

    [Fact]
    public void NNS0001_a_config_that_is_not_an_additional_file()
    {
        var diagnostic = Expect(
            """
            [{|NNS0001:NnSight.LanguageModel("models/gpt2/config.json")|}]
            public partial class Gpt2;
            """,
            ("/project/models/other/config.json", Gpt2));

        Assert.Equal("'models/gpt2/config.json' is not among this project's AdditionalFiles; add <AdditionalFiles Include=\"models/gpt2/config.json\" /> to the project file", diagnostic);
    }

    [Fact]
    public void NNS0002_malformed_json_names_line_and_column()
    {
        var diagnostic = Expect(
            """
            [{|NNS0002:NnSight.LanguageModel("config.json")|}]
            public partial class Broken;
            """,
            ("/project/config.json", "{\r\n  \"model_type\": \"gpt2\",\r\n  \"n_layer\": 12,,\r\n}"));

        Assert.Equal("'config.json' is not valid JSON at line 3, column 17: expected a property name in double quotes", diagnostic);
    }

    [Fact]
    public void NNS0003_an_unsupported_model_type_lists_the_supported_ones()
    {
        var diagnostic = Expect(
            """
            [{|NNS0003:NnSight.LanguageModel("bert.json")|}]
            public partial class Bert;
            """,
            ("/project/bert.json", """{"model_type": "bert", "num_hidden_layers": 12}"""));

        Assert.Equal("'bert.json' has model_type 'bert', which the generator does not support; supported: gpt2, llama, mistral, mixtral, phi, qwen2", diagnostic);
    }

    [Fact]
    public void NNS0004_a_required_key_missing()
    {
        var diagnostic = Expect(
            """
            [{|NNS0004:NnSight.LanguageModel("gpt2.json")|}]
            public partial class Gpt2;
            """,
            ("/project/gpt2.json", Gpt2.Replace("\"n_head\": 12,", "", StringComparison.Ordinal)));

        Assert.Equal("'gpt2.json' has no 'n_head', which the GPT-2 module tree needs", diagnostic);
    }

    [Fact]
    public void NNS0005_a_member_that_collides_with_the_class_name()
    {
        var diagnostic = Expect(
            """
            [{|NNS0005:NnSight.LanguageModel("llama.json")|}]
            public partial class Model;
            """,
            ("/project/llama.json", File.ReadAllText(Path.Combine(RepositoryPaths.Configs, "llama-3.1-8b.json"))));

        Assert.Equal("The module 'model' becomes the member 'Model', which collides with the class name Model; rename the class or report the architecture", diagnostic);
    }

    [Fact]
    public void NNS0006_a_class_that_is_not_partial()
    {
        var diagnostic = Expect(
            """
            [{|NNS0006:NnSight.LanguageModel("gpt2.json")|}]
            public class Gpt2 { }
            """,
            ("/project/gpt2.json", Gpt2));

        Assert.StartsWith("'Gpt2' carries [LanguageModel] but is not a top-level partial class", diagnostic, StringComparison.Ordinal);
    }

    [Fact]
    public void NNS0007_a_project_without_NnSight_Models_gets_a_diagnostic_instead_of_code_that_cannot_compile()
    {
        var markup = Markup.Parse(
            """
            [{|NNS0007:NnSight.LanguageModel("gpt2.json")|}]
            public partial class Gpt2;
            """);
        var withoutModels = GeneratorHarness.References.Where(reference => Path.GetFileName(reference.Display) != "NnSight.Models.dll");

        var (_, diagnostics, run) = GeneratorHarness.Run(withoutModels, markup.Source, ("/project/gpt2.json", Gpt2));

        markup.AssertDiagnostics(diagnostics);
        Assert.Empty(run.Results[0].GeneratedSources);
        Assert.Equal(
            "'Gpt2' carries [LanguageModel], whose generated class derives from NnSight.Models.LanguageModel, but this project does not reference NnSight.Models; add <PackageReference Include=\"NnSight.Models\" />",
            diagnostics.Single().GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Every_diagnostic_links_to_its_page_with_an_absolute_address()
    {
        var descriptors = typeof(DiagnosticDescriptors).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Select(field => (DiagnosticDescriptor)field.GetValue(null)!).ToList();

        Assert.NotEmpty(descriptors);
        foreach (var descriptor in descriptors)
        {
            Assert.True(Uri.TryCreate(descriptor.HelpLinkUri, UriKind.Absolute, out var link) && link.Scheme == Uri.UriSchemeHttps, descriptor.HelpLinkUri);
            Assert.EndsWith($"/docs/diagnostics/{descriptor.Id}.md", descriptor.HelpLinkUri, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(RepositoryPaths.Root, "docs", "diagnostics", descriptor.Id + ".md")), $"{descriptor.Id} has no page");
        }
    }

    [Fact]
    public void NNS0099_an_unexpected_failure_becomes_a_diagnostic()
    {
        var diagnostic = Expect(
            """
            [{|NNS0099:NnSight.LanguageModel("gpt2.json")|}]
            public partial class Gpt2;
            """,
            ("/project/gpt2.json", Gpt2.Replace("\"n_head\": 12", "\"n_head\": 0", StringComparison.Ordinal)));

        Assert.StartsWith("Generating the typed model for 'gpt2.json' failed:", diagnostic, StringComparison.Ordinal);
    }

    [Fact]
    public void The_config_path_matches_either_separator_relative_to_the_project()
    {
        var (_, diagnostics, run) = GeneratorHarness.Run(
            """
            [NnSight.LanguageModel(@"models\gpt2\config.json")]
            public partial class Gpt2;
            """,
            ("/project/models/gpt2/config.json", Gpt2), ("/elsewhere/models/gpt2/config.json", "{}"));

        Assert.Empty(diagnostics);
        Assert.Single(run.Results[0].GeneratedSources);
    }

    /// <summary>Runs the generator on marked source and returns the single diagnostic's message.</summary>
    private static string Expect(string marked, params (string Path, string Text)[] files)
    {
        var markup = Markup.Parse(marked);
        var (_, diagnostics, run) = GeneratorHarness.Run(markup.Source, files);
        markup.AssertDiagnostics(diagnostics);
        Assert.Empty(run.Results[0].GeneratedSources);
        return diagnostics.Single().GetMessage(System.Globalization.CultureInfo.InvariantCulture);
    }
}
