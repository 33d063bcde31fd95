using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>A value given to a local: by its declaration's initializer or an assignment.</summary>
internal sealed record LocalAssignment(IOperation Value, SyntaxNode Syntax);

/// <summary>Data flow of proxies within one method body.</summary>
internal static class ProxyValues
{
    /// <summary>Whether <paramref name="property"/> reads <c>TensorProxy.Value</c>.</summary>
    public static bool IsValueRead(IPropertyReferenceOperation property, NnSightTypes types) =>
        property.Property.Name == "Value" && NnSightTypes.Is(property.Property.ContainingType, types.TensorProxy);

    /// <summary>Whether <paramref name="member"/> belongs to the NnSight runtime's proxies or envoys (or generated envoys).</summary>
    public static bool IsRuntimeMember(ISymbol member, NnSightTypes types) =>
        NnSightTypes.Is(member.ContainingType, types.TensorProxy) || NnSightTypes.Is(member.ContainingType, types.TupleProxy)
        || NnSightTypes.Is(member.ContainingType, types.Envoy) || NnSightTypes.Is(member.ContainingType, types.Model);

    /// <summary>Every value assigned to <paramref name="local"/> in the body that contains <paramref name="context"/>.</summary>
    public static IEnumerable<LocalAssignment> Assignments(ILocalSymbol local, IOperation context)
    {
        foreach (var operation in Root(context).DescendantsAndSelf())
        {
            switch (operation)
            {
                case IVariableDeclaratorOperation declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, local) && declarator.Initializer is { } initializer:
                    yield return new LocalAssignment(initializer.Value, declarator.Syntax);
                    break;
                case ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment when SymbolEqualityComparer.Default.Equals(target.Local, local):
                    yield return new LocalAssignment(assignment.Value, assignment.Syntax);
                    break;
                case IDeconstructionAssignmentOperation deconstruction when deconstruction.Target.DescendantsAndSelf().OfType<ILocalReferenceOperation>()
                    .Any(target => SymbolEqualityComparer.Default.Equals(target.Local, local)):
                    yield return new LocalAssignment(deconstruction.Value, deconstruction.Syntax);
                    break;
            }
        }
    }

    /// <summary>Whether <c>local.Save()</c> is called anywhere in the body.</summary>
    public static bool HasSaveCall(ILocalSymbol local, IOperation context, NnSightTypes types) =>
        Root(context).DescendantsAndSelf().OfType<IInvocationOperation>().Any(call =>
            call.TargetMethod.Name == "Save" && NnSightTypes.Is(call.TargetMethod.ContainingType, types.TensorProxy)
            && call.Instance is ILocalReferenceOperation receiver && SymbolEqualityComparer.Default.Equals(receiver.Local, local));

    /// <summary>The outermost operation of the body (method, accessor, lambda-free top-level program).</summary>
    private static IOperation Root(IOperation operation)
    {
        while (operation.Parent is not null)
        {
            operation = operation.Parent;
        }
        return operation;
    }
}
