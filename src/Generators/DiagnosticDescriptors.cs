using System.Linq;
using Microsoft.CodeAnalysis;

namespace NnSight.Generators;

/// <summary>Every diagnostic of the generator (NNS0001–0099) and the analyzers (NNS0100–0199).</summary>
internal static class DiagnosticDescriptors
{
    private const string GeneratorCategory = "NnSight.Generator";
    private const string UsageCategory = "NnSight.Usage";

    /// <summary>Where the diagnostic pages live, stamped into the assembly at build time from the repository address.</summary>
    private static readonly string HelpBase = typeof(DiagnosticDescriptors).Assembly
        .GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), inherit: false)
        .Cast<System.Reflection.AssemblyMetadataAttribute>()
        .Single(attribute => attribute.Key == "DiagnosticHelpBase").Value!;

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

    public static readonly DiagnosticDescriptor ModelsNotReferenced = Generator(
        "NNS0007",
        "NnSight.Models is not referenced",
        "'{0}' carries [LanguageModel], whose generated class derives from NnSight.Models.LanguageModel, but this project does not reference NnSight.Models; add <PackageReference Include=\"NnSight.Models\" />");

    public static readonly DiagnosticDescriptor GeneratorFailure = Generator(
        "NNS0099",
        "The generator failed",
        "Generating the typed model for '{0}' failed: {1}");

    public static readonly DiagnosticDescriptor ModuleIndexOutOfRange = Usage(
        "NNS0101",
        "Module list index out of range",
        "{0}",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ValueReadInsideTrace = Usage(
        "NNS0102",
        "Value read inside the tracing context that produces it",
        "'{0}.Value' is read inside the tracing context that produces it; the model runs when the outermost context is disposed, so read it after that using block",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ValueNeverSaved = Usage(
        "NNS0103",
        "Value read on a proxy that is never saved",
        "'{0}.Value' reads a proxy that is never saved; call .Save() on it inside the trace to keep its value",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ModuleAccessOutsideInvoke = Usage(
        "NNS0104",
        "Module access outside an Invoke block",
        "'{0}' is used inside a trace but outside any Invoke block; module values belong to an invocation, so move it into a using (tracer.Invoke(...)) block",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor TooManyNextCalls = Usage(
        "NNS0105",
        "Next() called more often than the run has forward passes",
        "Next() is called {0} time(s) on '{1}', but {2}; accesses after this call would never be reached",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor StepsPastLastPass = Usage(
        "NNS0105",
        "Steps() outside the run's forward passes",
        "Steps({0}) asks for steps the run does not have: {1}",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor NextInsideSteps = Usage(
        "NNS0105",
        "Next() inside All() or Steps()",
        "'{0}.Next()' is called inside '{1}', but Next() cannot be used inside All() or Steps(): the scope already covers its steps",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor AccessOutOfForwardOrder = Usage(
        "NNS0106",
        "Module access out of forward order",
        "'{0}' is set after '{1}' is read in the same invocation and step, but the forward pass computes {2} before {3}; a value can only be set from modules that run before it",
        DiagnosticSeverity.Warning);

    public static readonly DiagnosticDescriptor LocalCodeInRemoteTrace = Usage(
        "NNS0107",
        "Local code in a remote trace",
        "Apply runs local code, which a server never runs; '{0}' runs remotely, so compute this with proxy operations or run the trace locally",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor GradientWithoutBackward = Usage(
        "NNS0108",
        "Gradient in a trace without Backward()",
        "'{0}.Grad' is used in a trace that never calls Backward(); only a trace that runs a backward pass has gradients, so call Backward() on a scalar loss in this trace",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ModuleAccessAfterStop = Usage(
        "NNS0109",
        "Module access after Stop()",
        "'{0}' is recorded after Stop(), so the run goes on until it (unlike nnsight, where code after stop() never runs); move Stop() after the last module access",
        DiagnosticSeverity.Warning);

    public static readonly DiagnosticDescriptor ValuesOfSingleValueProxy = Usage(
        "NNS0110",
        "Value read on a per-step proxy, or Values on a proxy with one value",
        "'{0}.Values' reads a proxy that was not recorded inside All() or Steps(), so it has one value: read '{0}.Value'",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ValueOfPerStepProxy = Usage(
        "NNS0110",
        "Value read on a per-step proxy, or Values on a proxy with one value",
        "'{0}.Value' reads a proxy recorded inside All() or Steps(), which has one value per step: read '{0}.Values'",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ShapeMismatchSetting = Usage(
        "NNS0111",
        "Shapes that cannot match",
        "'{0}' is {1} and cannot be set to {2} ('{3}') for any batch and sequence length: {4}",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ShapeMismatchSkip = Usage(
        "NNS0111",
        "Shapes that cannot match",
        "'{0}' replaces an output of {1} with {2} ('{3}'), which cannot have its structure for any batch and sequence length: {4}",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ShapeMismatchOperands = Usage(
        "NNS0111",
        "Shapes that cannot match",
        "'{0}' cannot {1} {2} and {3} for any batch and sequence length: {4}",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ShapeMismatchCall = Usage(
        "NNS0111",
        "Shapes that cannot match",
        "'{0}' passes {1} to '{2}', which takes {3}, for any batch and sequence length: {4}",
        DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ShapeMismatchValue = Usage(
        "NNS0111",
        "Shapes that cannot match",
        "'{0}' does not fit {1} for any batch and sequence length: {2}",
        DiagnosticSeverity.Error);

    /// <summary>Finds the descriptor of an id.</summary>
    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "NNS0001" => ConfigNotFound,
        "NNS0002" => MalformedJson,
        "NNS0003" => UnsupportedModelType,
        "NNS0004" => MissingKey,
        "NNS0005" => NameCollision,
        "NNS0006" => NotTopLevelPartial,
        "NNS0007" => ModelsNotReferenced,
        _ => GeneratorFailure,
    };

    private static DiagnosticDescriptor Usage(string id, string title, string message, DiagnosticSeverity severity) =>
        new(id, title, message, UsageCategory, severity, isEnabledByDefault: true, helpLinkUri: HelpBase + id + ".md");

    private static DiagnosticDescriptor Generator(string id, string title, string message) =>
        new(id, title, message, GeneratorCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
            helpLinkUri: HelpBase + id + ".md");
}
