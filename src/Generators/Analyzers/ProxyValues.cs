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

    /// <summary>Whether <paramref name="property"/> reads <c>TensorProxy.Values</c>, the values of each step.</summary>
    public static bool IsValuesRead(IPropertyReferenceOperation property, NnSightTypes types) =>
        property.Property.Name == "Values" && NnSightTypes.Is(property.Property.ContainingType, types.TensorProxy);

    /// <summary>Whether <paramref name="member"/> belongs to the NnSight runtime's proxies or envoys (or generated envoys).</summary>
    public static bool IsRuntimeMember(ISymbol member, NnSightTypes types) =>
        NnSightTypes.Is(member.ContainingType, types.TensorProxy) || NnSightTypes.Is(member.ContainingType, types.TupleProxy)
        || NnSightTypes.Is(member.ContainingType, types.Envoy) || NnSightTypes.Is(member.ContainingType, types.Model);

    /// <summary>
    /// Whether <paramref name="value"/> is a proxy the runtime records where it is evaluated: the result of a proxy's,
    /// envoy's or model's member or operator.
    /// </summary>
    public static bool IsRecorded(IOperation value, NnSightTypes types) => value switch
    {
        IInvocationOperation call => IsRuntimeMember(call.TargetMethod, types),
        IPropertyReferenceOperation property => IsRuntimeMember(property.Property, types),
        IBinaryOperation { OperatorMethod: { } method } => IsRuntimeMember(method, types),
        IUnaryOperation { OperatorMethod: { } method } => IsRuntimeMember(method, types),
        _ => false,
    };

    /// <summary>
    /// Where the proxies <paramref name="local"/> may hold were recorded: the assignments of a recorded value
    /// (<see cref="IsRecorded"/>; <c>Save()</c> returns its receiver, so it is looked through), following locals it is
    /// copied from. Null when a value has another origin (a field, parameter, other method) or none is assigned.
    /// </summary>
    public static IReadOnlyList<SyntaxNode>? RecordingSites(ILocalSymbol local, IOperation context, NnSightTypes types) =>
        RecordingSites(local, context, types, new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default));

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
            IsSave(call, types) && call.Instance is ILocalReferenceOperation receiver && SymbolEqualityComparer.Default.Equals(receiver.Local, local));

    private static List<SyntaxNode>? RecordingSites(ILocalSymbol local, IOperation context, NnSightTypes types, HashSet<ILocalSymbol> visited)
    {
        var sites = new List<SyntaxNode>();
        if (!visited.Add(local))
        {
            return sites;
        }
        foreach (var assignment in Assignments(local, context))
        {
            var value = PassedOn(assignment.Value, types);
            if (value is ILocalReferenceOperation copy && RecordingSites(copy.Local, context, types, visited) is { } copied)
            {
                sites.AddRange(copied);
            }
            else if (IsRecorded(value, types))
            {
                sites.Add(assignment.Syntax);
            }
            else
            {
                return null;
            }
        }
        return sites.Count > 0 ? sites : null;
    }

    /// <summary>The proxy a value passes on: conversions and <c>Save()</c> (which returns its receiver) looked through.</summary>
    private static IOperation PassedOn(IOperation value, NnSightTypes types)
    {
        while (true)
        {
            switch (value)
            {
                case IConversionOperation conversion:
                    value = conversion.Operand;
                    break;
                case IInvocationOperation { Instance: { } receiver } call when IsSave(call, types):
                    value = receiver;
                    break;
                default:
                    return value;
            }
        }
    }

    private static bool IsSave(IInvocationOperation call, NnSightTypes types) =>
        call.TargetMethod.Name == "Save" && NnSightTypes.Is(call.TargetMethod.ContainingType, types.TensorProxy);

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
