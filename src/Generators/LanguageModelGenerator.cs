using System;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;
using NnSight.Generators.Model;

namespace NnSight.Generators;

/// <summary>
/// Generates a typed model class for each <c>[LanguageModel("path/config.json")]</c> partial class: the module tree
/// of the config's architecture as typed envoys with HuggingFace paths, shapes and forward-order metadata.
/// This file wires the incremental pipeline; the parser builds the model and the emitter writes the source.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed partial class LanguageModelGenerator : IIncrementalGenerator
{
    /// <summary>The attribute's full name.</summary>
    public const string AttributeName = "NnSight.LanguageModelAttribute";

    /// <summary>The class generated models derive from, in the NnSight.Models package.</summary>
    private const string LanguageModelBaseName = "NnSight.Models.LanguageModel";

    /// <summary>Tracking names of the pipeline's steps.</summary>
    public static class Steps
    {
        /// <summary>Classes carrying the attribute.</summary>
        public const string Requests = nameof(Requests);

        /// <summary>The project's AdditionalFiles with their text.</summary>
        public const string ConfigFiles = nameof(ConfigFiles);

        /// <summary>The project folder.</summary>
        public const string ProjectDirectory = nameof(ProjectDirectory);

        /// <summary>Whether the compilation references NnSight.Models.</summary>
        public const string ModelsReferenced = nameof(ModelsReferenced);

        /// <summary>Requests combined with the files they may name.</summary>
        public const string Inputs = nameof(Inputs);

        /// <summary>Parsed models and their diagnostics.</summary>
        public const string Parsed = nameof(Parsed);

        /// <summary>The diagnostics branch.</summary>
        public const string Diagnostics = nameof(Diagnostics);

        /// <summary>The models to emit.</summary>
        public const string Models = nameof(Models);
    }

    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var requests = context.SyntaxProvider
            .ForAttributeWithMetadataName(AttributeName, static (node, _) => node is ClassDeclarationSyntax, static (syntax, token) => ToRequest(syntax, token))
            .Where(static request => request is not null)
            .Select(static (request, _) => request!)
            .WithTrackingName(Steps.Requests);

        var files = context.AdditionalTextsProvider
            .Where(static text => text.Path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            .Select(static (text, token) => new ConfigFile(text.Path, text.GetText(token)?.ToString() ?? ""))
            .Collect()
            .Select(static (items, _) => items.ToEquatableArray())
            .WithTrackingName(Steps.ConfigFiles);

        var projectDirectory = context.AnalyzerConfigOptionsProvider
            .Select(static (options, _) => options.GlobalOptions.TryGetValue("build_property.ProjectDir", out var directory) ? directory : null)
            .WithTrackingName(Steps.ProjectDirectory);

        var modelsReferenced = context.CompilationProvider
            .Select(static (compilation, _) => compilation.GetTypeByMetadataName(LanguageModelBaseName) is not null)
            .WithTrackingName(Steps.ModelsReferenced);

        var parsed = requests
            .Combine(files)
            .Combine(projectDirectory)
            .Combine(modelsReferenced)
            .Select(static (pair, _) => new ParseInput(pair.Left.Left.Left, pair.Left.Left.Right, pair.Left.Right, pair.Right))
            .WithTrackingName(Steps.Inputs)
            .Select(static (input, _) => Parser.Parse(input))
            .WithTrackingName(Steps.Parsed);

        var diagnostics = parsed
            .Select(static (result, _) => result.Diagnostics)
            .Where(static items => items.Count > 0)
            .WithTrackingName(Steps.Diagnostics);
        context.RegisterSourceOutput(diagnostics, static (output, items) =>
        {
            foreach (var item in items)
            {
                output.ReportDiagnostic(ToDiagnostic(item));
            }
        });

        var models = parsed
            .Where(static result => result.Model is not null)
            .Select(static (result, _) => result.Model!)
            .WithTrackingName(Steps.Models);
        context.RegisterSourceOutput(models, static (output, model) =>
        {
            try
            {
                output.AddSource(Emitter.HintName(model), SourceText.From(Emitter.Emit(model), System.Text.Encoding.UTF8));
            }
            catch (Exception error)
            {
                output.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.GeneratorFailure, Location.None, model.ConfigPath, error.Message));
            }
        });
    }

    private static ModelRequest? ToRequest(GeneratorAttributeSyntaxContext syntax, CancellationToken token)
    {
        if (syntax.TargetSymbol is not INamedTypeSymbol type)
        {
            return null;
        }
        var attribute = syntax.Attributes.FirstOrDefault();
        var path = attribute?.ConstructorArguments.FirstOrDefault().Value as string ?? "";
        var declaration = (ClassDeclarationSyntax)syntax.TargetNode;
        var location = attribute?.ApplicationSyntaxReference?.GetSyntax(token).GetLocation() ?? declaration.Identifier.GetLocation();
        var lineSpan = location.GetLineSpan();
        return new ModelRequest(
            type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString(),
            type.Name,
            SyntaxFacts.GetText(type.DeclaredAccessibility),
            declaration.Modifiers.Any(SyntaxKind.PartialKeyword),
            type.ContainingType is not null,
            path,
            new LocationInfo(lineSpan.Path, location.SourceSpan.Start, location.SourceSpan.Length,
                lineSpan.StartLinePosition.Line, lineSpan.StartLinePosition.Character, lineSpan.EndLinePosition.Line, lineSpan.EndLinePosition.Character));
    }

    private static Diagnostic ToDiagnostic(DiagnosticInfo info)
    {
        var location = info.Location is { } where
            ? Location.Create(where.FilePath, new TextSpan(where.Start, where.Length),
                new LinePositionSpan(new LinePosition(where.StartLine, where.StartColumn), new LinePosition(where.EndLine, where.EndColumn)))
            : Location.None;
        return Diagnostic.Create(DiagnosticDescriptors.ById(info.Id), location, info.Arguments.Cast<object>().ToArray());
    }
}
