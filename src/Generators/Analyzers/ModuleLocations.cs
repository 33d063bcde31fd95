using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>A typed module and where its output comes in the forward pass.</summary>
/// <param name="Path">The module's path (<c>transformer.h.5.mlp</c>).</param>
/// <param name="Order">Its output's forward order.</param>
/// <param name="ElementPath">The enclosing list element's path, for members with relative metadata.</param>
/// <param name="ElementBase">The enclosing list element's first forward order.</param>
internal sealed record ModuleLocation(string Path, int Order, string? ElementPath, int ElementBase);

/// <summary>A typed module list: its path, length and the forward order of its elements.</summary>
internal sealed record ListLocation(string Path, int Length, int FirstOrder, int Stride);

/// <summary>
/// Reads the generator's <c>[Module]</c> / <c>[ModuleList]</c> metadata along an envoy expression such as
/// <c>model.Transformer.H[5].Mlp</c>, following locals to their initializers.
/// </summary>
internal static class ModuleLocations
{
    private const int MaxDepth = 32;

    /// <summary>The module <paramref name="envoy"/> stands for, when its path and order are known at compile time.</summary>
    public static ModuleLocation? Resolve(IOperation? envoy, NnSightTypes types, int depth = 0)
    {
        envoy = Unwrap(envoy, depth);
        if (envoy is null || depth > MaxDepth)
        {
            return null;
        }
        if (envoy is IPropertyReferenceOperation { Property.IsIndexer: true } element
            && NnSightTypes.Is(element.Instance?.Type, types.EnvoyList))
        {
            var list = ResolveList(element.Instance, types, depth + 1);
            var index = list is null ? null : ConstantIndex(element.Arguments.FirstOrDefault()?.Value, list.Length);
            if (list is null || index is not { } position || position < 0 || position >= list.Length)
            {
                return null;
            }
            var elementBase = list.FirstOrder + position * list.Stride;
            var path = $"{list.Path}.{position}";
            return new ModuleLocation(path, elementBase + list.Stride - 1, path, elementBase);
        }
        if (envoy is IPropertyReferenceOperation property && Attribute(property.Property, types.ModuleAttribute) is { } attribute)
        {
            var modulePath = (string)attribute.ConstructorArguments[0].Value!;
            var order = (int)attribute.ConstructorArguments[1].Value!;
            if (!IsRelative(attribute))
            {
                return new ModuleLocation(modulePath, order, null, 0);
            }
            var owner = Resolve(property.Instance, types, depth + 1);
            return owner?.ElementPath is { } elementPath
                ? new ModuleLocation($"{elementPath}.{modulePath}", owner.ElementBase + order, elementPath, owner.ElementBase)
                : null;
        }
        return null;
    }

    /// <summary>The typed list <paramref name="list"/> stands for (<c>model.Transformer.H</c>), when known.</summary>
    public static ListLocation? ResolveList(IOperation? list, NnSightTypes types, int depth = 0)
    {
        list = Unwrap(list, depth);
        if (list is not IPropertyReferenceOperation property || Attribute(property.Property, types.ModuleListAttribute) is not { } attribute)
        {
            return null;
        }
        var path = (string)attribute.ConstructorArguments[0].Value!;
        var length = (int)attribute.ConstructorArguments[1].Value!;
        var first = (int)attribute.ConstructorArguments[2].Value!;
        var stride = (int)attribute.ConstructorArguments[3].Value!;
        if (!IsRelative(attribute))
        {
            return new ListLocation(path, length, first, stride);
        }
        var owner = Resolve(property.Instance, types, depth + 1);
        return owner?.ElementPath is { } elementPath ? new ListLocation($"{elementPath}.{path}", length, owner.ElementBase + first, stride) : null;
    }

    /// <summary>The position a constant index selects in a list of <paramref name="length"/> (<c>^k</c> → length − k).</summary>
    public static int? ConstantIndex(IOperation? index, int length)
    {
        index = index is IConversionOperation conversion ? conversion.Operand : index;
        if (index is IUnaryOperation { OperatorKind: UnaryOperatorKind.Hat } hat)
        {
            return hat.Operand.ConstantValue is { HasValue: true, Value: int fromEnd } ? length - fromEnd : null;
        }
        return index?.ConstantValue is { HasValue: true, Value: int position } ? position : null;
    }

    /// <summary>Follows conversions and a local to its initializer.</summary>
    private static IOperation? Unwrap(IOperation? operation, int depth)
    {
        while (operation is IConversionOperation conversion)
        {
            operation = conversion.Operand;
        }
        if (operation is ILocalReferenceOperation local && depth < MaxDepth
            && local.Local.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() is VariableDeclaratorSyntax { Initializer.Value: var initializer }
            && operation.SemanticModel?.SyntaxTree == initializer.SyntaxTree)
        {
            return Unwrap(operation.SemanticModel.GetOperation(initializer), depth + 1);
        }
        return operation;
    }

    private static AttributeData? Attribute(IPropertySymbol property, INamedTypeSymbol? attribute) =>
        attribute is null ? null : property.GetAttributes().FirstOrDefault(data => SymbolEqualityComparer.Default.Equals(data.AttributeClass, attribute));

    private static bool IsRelative(AttributeData attribute) =>
        attribute.NamedArguments.Any(argument => argument.Key == "Relative" && argument.Value.Value is true);
}
