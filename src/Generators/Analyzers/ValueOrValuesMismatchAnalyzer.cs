using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0110: a proxy recorded inside <c>invoker.All()</c> or <c>invoker.Steps(range)</c> has one value per step, read
/// with <c>.Values</c>; any other has one, read with <c>.Value</c>; the other property throws. Judged on locals whose
/// every value is recorded in the method (<see cref="ProxyValues.RecordingSites"/>): <c>.Values</c> when each was
/// recorded in a visible tracing context with no step scope around it, <c>.Value</c> when each was recorded inside a
/// step scope. Values of unknown origin, and values recorded in lambdas or local functions that are not handed to
/// <c>Trace</c>/<c>Generate</c>/<c>Invoke</c> (they may be called inside a step scope), are left alone.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ValueOrValuesMismatchAnalyzer : NnSightAnalyzer
{
    /// <summary>Creates the analyzer of its rule.</summary>
    public ValueOrValuesMismatchAnalyzer() : base(DiagnosticDescriptors.ValuesOfSingleValueProxy, DiagnosticDescriptors.ValueOfPerStepProxy)
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
        var readsValues = ProxyValues.IsValuesRead(read, types);
        if ((!readsValues && !ProxyValues.IsValueRead(read, types))
            || read.Instance is not ILocalReferenceOperation local
            || ProxyValues.RecordingSites(local.Local, read, types) is not { } sites)
        {
            return;
        }
        var scopes = sites.Select(site => TracingScopes.Enclosing(site, read.SemanticModel!, types, context.CancellationToken)).ToList();
        if (readsValues && scopes.All(around => around.Any(scope => scope.Kind == ScopeKind.Trace) && around.All(scope => scope.Kind != ScopeKind.Steps)))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ValuesOfSingleValueProxy, read.Syntax.GetLocation(), local.Local.Name));
        }
        else if (!readsValues && scopes.All(around => around.Any(scope => scope.Kind == ScopeKind.Steps)))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ValueOfPerStepProxy, read.Syntax.GetLocation(), local.Local.Name));
        }
    }
}
