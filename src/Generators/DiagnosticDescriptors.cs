using Microsoft.CodeAnalysis;

namespace NnSight.Generators;

/// <summary>Every diagnostic of the generator (NNS0001–0099) and the analyzers (NNS0100–0199).</summary>
internal static class DiagnosticDescriptors
{
    private const string GeneratorCategory = "NnSight.Generator";

    public static readonly DiagnosticDescriptor ConfigNotFound = Generator(
        "NNS0001",
        "Config file is not an AdditionalFiles item",
        "'{0}' is not among this project's AdditionalFiles; add <AdditionalFiles Include=\"{0}\" /> to the project file");

    public static readonly DiagnosticDescriptor MalformedJson = Generator(
        "NNS0002",
        "Config file is not valid JSON",
        "'{0}' is not valid JSON at line {1}, column {2}: {3}");

    public static readonly DiagnosticDescriptor UnsupportedModelType = Generator(
        "NNS0003",
        "Unsupported model_type",
        "'{0}' has model_type '{1}', which the generator does not support; supported: {2}");

    public static readonly DiagnosticDescriptor MissingKey = Generator(
        "NNS0004",
        "Required config key missing",
        "'{0}' has no '{1}', which the {2} module tree needs");

    public static readonly DiagnosticDescriptor NameCollision = Generator(
        "NNS0005",
        "Generated name collides",
        "The module '{0}' becomes the member '{1}', which collides with {2}; rename the class or report the architecture");

    public static readonly DiagnosticDescriptor NotTopLevelPartial = Generator(
        "NNS0006",
        "The model class must be a top-level partial class",
        "'{0}' carries [LanguageModel] but is not a top-level partial class; declare it 'public partial class {0};' outside other types");

    public static readonly DiagnosticDescriptor GeneratorFailure = Generator(
        "NNS0099",
        "The generator failed",
        "Generating the typed model for '{0}' failed: {1}");

    /// <summary>Finds the descriptor of an id.</summary>
    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "NNS0001" => ConfigNotFound,
        "NNS0002" => MalformedJson,
        "NNS0003" => UnsupportedModelType,
        "NNS0004" => MissingKey,
        "NNS0005" => NameCollision,
        "NNS0006" => NotTopLevelPartial,
        _ => GeneratorFailure,
    };

    private static DiagnosticDescriptor Generator(string id, string title, string message) =>
        new(id, title, message, GeneratorCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
            helpLinkUri: $"docs/diagnostics/{id}.md");
}
