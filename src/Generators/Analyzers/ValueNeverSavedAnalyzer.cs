using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0103: <c>.Value</c> read on a local proxy that is never <c>Save()</c>d in the method: every value assigned to it
/// (following locals it is copied from) comes from the runtime without <c>Save()</c>, and <c>Save()</c> is never
/// called on it. Values of unknown origin (fields, parameters, other methods) are not judged.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ValueNeverSavedAnalyzer : NnSightAnalyzer
{
    /// <summary>Creates the analyzer of its rule.</summary>
    public ValueNeverSavedAnalyzer() : base(DiagnosticDescriptors.ValueNeverSaved)
    {
    }

    /// <inheritdoc />
    private protected override void Register(CompilationStartAnalysisContext start, NnSightTypes types)
    {
        start.RegisterOperationAction(operation => Analyze(operation, types), OperationKind.PropertyReference);
    }

    private static void Analyze(OperationAnalysisContext context, NnSightTypes types)
    {
        var read = (IPropertyReferenceOperation)context.Operation;
        if (ProxyValues.IsValueRead(read, types) && read.Instance is ILocalReferenceOperation local
            && IsNeverSaved(local.Local, read, types, new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ValueNeverSaved, read.Syntax.GetLocation(), local.Local.Name));
        }
    }

    private static bool IsNeverSaved(ILocalSymbol local, IOperation context, NnSightTypes types, HashSet<ILocalSymbol> visited)
    {
        if (!visited.Add(local) || ProxyValues.HasSaveCall(local, context, types))
        {
            return false;
        }
        var assignments = ProxyValues.Assignments(local, context).ToList();
        return assignments.Count > 0 && assignments.All(assignment => IsUnsaved(assignment.Value, context, types, visited));
    }

    private static bool IsUnsaved(IOperation value, IOperation context, NnSightTypes types, HashSet<ILocalSymbol> visited)
    {
        while (value is IConversionOperation conversion)
        {
            value = conversion.Operand;
        }
        return value switch
        {
            IInvocationOperation { TargetMethod.Name: "Save" } => false,
            ILocalReferenceOperation copy => IsNeverSaved(copy.Local, context, types, visited),
            _ => ProxyValues.IsRecorded(value, types),
        };
    }
}
