using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0104: a module's <c>Output</c>, <c>Input</c> or <c>Inputs</c> (read or set), <c>Skip</c> or <c>Call</c> inside a
/// tracing context but outside every <c>Invoke</c> block. Code outside any tracing context (helpers) is not judged.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ModuleAccessOutsideInvokeAnalyzer : NnSightAnalyzer
{
    /// <summary>Creates the analyzer of its rule.</summary>
    public ModuleAccessOutsideInvokeAnalyzer() : base(DiagnosticDescriptors.ModuleAccessOutsideInvoke)
    {
    }

    /// <inheritdoc />
    private protected override void Register(CompilationStartAnalysisContext start, NnSightTypes types)
    {
        start.RegisterOperationAction(operation => Analyze(operation, types), OperationKind.PropertyReference, OperationKind.Invocation);
    }

    private static void Analyze(OperationAnalysisContext context, NnSightTypes types)
    {
        if (ModuleAccesses.Name(context.Operation, types) is not { } name)
        {
            return;
        }
        var scopes = TracingScopes.Enclosing(context.Operation.Syntax, context.Operation.SemanticModel!, types, context.CancellationToken);
        if (scopes.Any(scope => scope.Kind == ScopeKind.Trace) && scopes.All(scope => scope.Kind != ScopeKind.Invoke))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ModuleAccessOutsideInvoke, context.Operation.Syntax.GetLocation(), name));
        }
    }
}
