using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0109: a module access (<c>Output</c>, <c>Input</c>, <c>Inputs</c>, <c>Skip</c>, <c>Call</c>) in an Invoke block
/// that comes, in the source, after <c>Stop()</c> on the same tracing context. <c>Stop()</c> does not end recording: the
/// run stops once every recorded node has run, so the access is kept and the run goes on until its module, where an
/// nnsight user expects the code after <c>stop()</c> not to run. A warning, since the result is still correct. Only a
/// <c>Stop()</c> that runs where it is written (not in a lambda or local function of its own) on a context whose
/// creation is known is followed; accesses in lambdas and local functions, and loops that come back to an access
/// written before <c>Stop()</c>, are not judged.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ModuleAccessAfterStopAnalyzer : NnSightAnalyzer
{
    /// <summary>Creates the analyzer of its rule.</summary>
    public ModuleAccessAfterStopAnalyzer() : base(DiagnosticDescriptors.ModuleAccessAfterStop)
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
        var access = context.Operation.Syntax;
        var model = context.Operation.SemanticModel!;
        var scopes = TracingScopes.Enclosing(access, model, types, context.CancellationToken);
        // The innermost context is the one the access records in; outside an Invoke block it is NNS0104's error.
        var trace = scopes.FirstOrDefault(scope => scope.Kind == ScopeKind.Trace);
        if (trace?.Creation is null || scopes.All(scope => scope.Kind != ScopeKind.Invoke))
        {
            return;
        }
        var stopsBefore = access.SyntaxTree.GetRoot(context.CancellationToken).DescendantNodes(trace.Span)
            .OfType<InvocationExpressionSyntax>()
            .Where(call => call.Expression is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Stop" }
                && trace.Span.Contains(call.Span) && call.Span.End <= access.SpanStart);
        if (stopsBefore.Any(call => StopsTrace(call, trace, model, types, context.CancellationToken)))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ModuleAccessAfterStop, access.GetLocation(), name));
        }
    }

    /// <summary>Whether <paramref name="call"/> is <c>Stop()</c> on <paramref name="trace"/>'s context, run where it is written.</summary>
    private static bool StopsTrace(InvocationExpressionSyntax call, TracingScope trace, SemanticModel model, NnSightTypes types, CancellationToken token) =>
        model.GetOperation(call, token) is IInvocationOperation { TargetMethod.Name: "Stop" } stop
        && NnSightTypes.Is(stop.TargetMethod.ContainingType, types.Tracer)
        && TracingScopes.Creation(stop.Instance?.Syntax as ExpressionSyntax, model, token)?.Span == trace.Creation!.Span
        // A Stop() in a lambda or local function runs when that is called: the scopes found from it end there.
        && TracingScopes.Enclosing(call, model, types, token).Any(scope => scope.Kind == ScopeKind.Trace && scope.Span == trace.Span);
}
