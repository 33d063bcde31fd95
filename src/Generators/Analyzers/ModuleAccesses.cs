using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>Recognises the operations that record a module's value in the open invocation.</summary>
internal static class ModuleAccesses
{
    /// <summary>
    /// How the access <paramref name="operation"/> is written (<c>model.LmHead.Output</c>, <c>block.Skip</c>): a module's
    /// (typed or untyped envoy's, or the model's) <c>Output</c>, <c>Input</c> or <c>Inputs</c> read or set, or its
    /// <c>Skip(...)</c> or <c>Call(...)</c>; null for any other operation.
    /// </summary>
    public static string? Name(IOperation operation, NnSightTypes types)
    {
        var (member, receiver) = operation switch
        {
            IPropertyReferenceOperation { Property.Name: "Output" or "Input" or "Inputs" } property => ((ISymbol?)property.Property, property.Instance),
            IInvocationOperation { TargetMethod.Name: "Skip" or "Call" } invocation => (invocation.TargetMethod, invocation.Instance),
            _ => (null, null),
        };
        if (member is null || !(NnSightTypes.Is(member.ContainingType, types.Envoy) || NnSightTypes.Is(member.ContainingType, types.Model)))
        {
            return null;
        }
        return receiver is null ? member.Name : $"{receiver.Syntax}.{member.Name}";
    }
}
