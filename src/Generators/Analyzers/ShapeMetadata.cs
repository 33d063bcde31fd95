using System.Collections.Concurrent;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace NnSight.Generators.Analyzers;

/// <summary>A module's shapes from its member's <c>[Shape]</c>: output, first input, and whether it works element by element.</summary>
internal sealed record ModuleShapes(SymbolicShape? Output, SymbolicShape? Input, bool Elementwise);

/// <summary>
/// Reads the generator's <c>[Shape]</c> attributes, once per member and compilation: on module members (a list member
/// describes each element), on typed <c>Output</c> properties, and on the elements of typed tuple outputs.
/// </summary>
internal sealed class ShapeMetadata
{
    private readonly INamedTypeSymbol _shapeAttribute;
    private readonly ConcurrentDictionary<IPropertySymbol, ModuleShapes?> _members = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<string, SymbolicShape?> _parsed = new(System.StringComparer.Ordinal);
    private readonly System.Func<IPropertySymbol, ModuleShapes?> _read;

    private ShapeMetadata(INamedTypeSymbol shapeAttribute)
    {
        _shapeAttribute = shapeAttribute;
        _read = Read;
    }

    /// <summary>The metadata reader, or null when the referenced runtime has no <c>[Shape]</c> attribute.</summary>
    public static ShapeMetadata? From(Compilation compilation) =>
        compilation.GetTypeByMetadataName("NnSight.ShapeAttribute") is { } attribute ? new ShapeMetadata(attribute) : null;

    /// <summary>The shapes <paramref name="property"/>'s <c>[Shape]</c> gives, or null when it has none.</summary>
    public ModuleShapes? Of(IPropertySymbol property) => _members.GetOrAdd(property.OriginalDefinition, _read);

    private ModuleShapes? Read(IPropertySymbol property)
    {
        var data = property.GetAttributes().FirstOrDefault(attribute => SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, _shapeAttribute));
        if (data is null || data.ConstructorArguments.Length != 1 || data.ConstructorArguments[0].Value is not string output)
        {
            return null;
        }
        SymbolicShape? input = null;
        var elementwise = false;
        foreach (var argument in data.NamedArguments)
        {
            switch (argument.Key, argument.Value.Value)
            {
                case ("Input", string text):
                    input = Parse(text);
                    break;
                case ("Elementwise", bool flag):
                    elementwise = flag;
                    break;
            }
        }
        return new ModuleShapes(Parse(output), input, elementwise);
    }

    private SymbolicShape? Parse(string text) => _parsed.GetOrAdd(text, SymbolicShape.Parse);
}
