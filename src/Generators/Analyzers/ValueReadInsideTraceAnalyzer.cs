using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0102: <c>.Value</c> read inside the tracing context that produces it. A proxy recorded in a trace has a value
/// only after the outermost context is disposed.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ValueReadInsideTraceAnalyzer : NnSightAnalyzer
{
    /// <summary>Creates the analyzer of its rule.</summary>
    public ValueReadInsideTraceAnalyzer() : base(DiagnosticDescriptors.ValueReadInsideTrace)
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
        if (!ProxyValues.IsValueRead(read, types))
        {
            return;
        }
        var traces = TracingScopes.Enclosing(read.Syntax, read.SemanticModel!, types, context.CancellationToken)
            .Where(scope => scope.Kind == ScopeKind.Trace).ToList();
        if (traces.Count == 0)
        {
            return;
        }
        var producedHere = read.Instance is ILocalReferenceOperation local
            ? ProxyValues.Assignments(local.Local, read).Any(assignment => traces.Any(scope => scope.Contains(assignment.Syntax)))
            : true;
        if (producedHere)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ValueReadInsideTrace, read.Syntax.GetLocation(), read.Instance!.Syntax.ToString()));
        }
    }
}
