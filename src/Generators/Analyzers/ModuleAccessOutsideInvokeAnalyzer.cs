using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0104: a module's <c>Output</c>, <c>Input</c> or <c>Inputs</c> (read or set) or <c>Call</c> inside a tracing
/// context but outside every <c>Invoke</c> block. Code outside any tracing context (helpers) is not judged.
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
        var (member, receiver) = context.Operation switch
        {
            IPropertyReferenceOperation property => ((ISymbol)property.Property, property.Instance),
            IInvocationOperation invocation => (invocation.TargetMethod, invocation.Instance),
            _ => (null!, null),
        };
        var isModuleValue = member.Name is "Output" or "Input" or "Inputs" or "Call"
            && (NnSightTypes.Is(member.ContainingType, types.Envoy) || NnSightTypes.Is(member.ContainingType, types.Model))
            && !(member.Name == "Call" && context.Operation is not IInvocationOperation);
        if (!isModuleValue)
        {
            return;
        }
        var scopes = TracingScopes.Enclosing(context.Operation.Syntax, context.Operation.SemanticModel!, types, context.CancellationToken);
        if (scopes.Any(scope => scope.Kind == ScopeKind.Trace) && scopes.All(scope => scope.Kind != ScopeKind.Invoke))
        {
            var name = receiver is null ? member.Name : $"{receiver.Syntax}.{member.Name}";
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ModuleAccessOutsideInvoke, context.Operation.Syntax.GetLocation(), name));
        }
    }
}
