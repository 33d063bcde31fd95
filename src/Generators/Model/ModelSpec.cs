namespace NnSight.Generators.Model;

/// <summary>Where a diagnostic points, as primitives (a Roslyn <c>Location</c> would defeat caching).</summary>
internal sealed record LocationInfo(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn);

/// <summary>A diagnostic to report, as primitives.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments);

/// <summary>A class carrying <c>[LanguageModel(path)]</c>, as the pipeline's first step sees it.</summary>
internal sealed record ModelRequest(
    string? Namespace,
    string ClassName,
    string Accessibility,
    bool IsPartial,
    bool IsNested,
    string ConfigPath,
    LocationInfo Location);

/// <summary>An <c>AdditionalFiles</c> item: its full path and text.</summary>
internal sealed record ConfigFile(string Path, string Text);

/// <summary>Everything the parser needs, gathered from the pipeline's inputs.</summary>
/// <param name="Request">The attributed class.</param>
/// <param name="Files">The project's JSON AdditionalFiles.</param>
/// <param name="ProjectDirectory">The project folder, for relative paths.</param>
/// <param name="ModelsReferenced">Whether the compilation has NnSight.Models, whose LanguageModel the class derives from.</param>
internal sealed record ParseInput(ModelRequest Request, EquatableArray<ConfigFile> Files, string? ProjectDirectory, bool ModelsReferenced);

/// <summary>The parser's result: the model to emit (null when a diagnostic stops generation) and the diagnostics.</summary>
internal sealed record ParseResult(ModelSpec? Model, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>A config key the loaded folder must match (layers, widths, heads, vocabulary).</summary>
internal sealed record StructuralKey(string Key, long Value);

/// <summary>
/// The typed model class to generate. <see cref="HasShapes"/>: whether members carry <c>[Shape]</c>, which only
/// architectures NnSight.Models implements do (their shapes are pinned to the implementation by conformance tests).
/// </summary>
internal sealed record ModelSpec(
    string? Namespace,
    string ClassName,
    string Accessibility,
    string ConfigPath,
    string ModelType,
    string ArchitectureName,
    string? ConfigType,
    string Summary,
    EquatableArray<StructuralKey> StructuralKeys,
    OutputSpec? RootOutput,
    EquatableArray<ModuleSpec> Children)
{
    public bool HasShapes => ConfigType is not null;
}

/// <summary>
/// One module of the typed tree. <see cref="Path"/> is absolute, or relative to a list element when
/// <see cref="IsRelative"/>; <see cref="Order"/> is the position of its output in the forward pass (post-order),
/// relative like the path. <see cref="OutputShape"/> documents the output; <see cref="Shape"/>,
/// <see cref="InputShape"/> and <see cref="Elementwise"/> are the symbolic shapes of its <c>[Shape]</c>.
/// </summary>
internal sealed record ModuleSpec(
    string Name,
    string PropertyName,
    string TypeName,
    string Kind,
    string Path,
    string DocumentationPath,
    bool IsRelative,
    int Order,
    string? OutputShape,
    OutputSpec? Output,
    EquatableArray<ModuleSpec> Children,
    ListSpec? List,
    string? Shape,
    string? InputShape,
    bool Elementwise);

/// <summary>A module list: its length from the config and the element type.</summary>
internal sealed record ListSpec(int Length, int FirstOrder, int Stride, ModuleSpec Element);

/// <summary>A tuple output: the generated proxy type, its named elements and its symbolic shape.</summary>
internal sealed record OutputSpec(string TypeName, EquatableArray<OutputElementSpec> Elements, string Shape);

/// <summary>One named element of a tuple output, with its documentation and symbolic shape.</summary>
internal sealed record OutputElementSpec(int Index, string Alias, string Description, bool IsTuple, string Shape);
