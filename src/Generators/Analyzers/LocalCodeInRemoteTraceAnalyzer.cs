using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0107: <c>Apply</c> (arbitrary local code) inside a trace that runs remotely — <c>remote: true</c>, a
/// <c>server:</c> address, or <see cref="T:NnSight.RemoteSettings"/>. A server runs graphs, never user code, and
/// refuses such a graph.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class LocalCodeInRemoteTraceAnalyzer : NnSightAnalyzer
{
    /// <summary>Creates the analyzer of its rule.</summary>
    public LocalCodeInRemoteTraceAnalyzer() : base(DiagnosticDescriptors.LocalCodeInRemoteTrace)
    {
    }

    /// <inheritdoc />
    private protected override void Register(CompilationStartAnalysisContext start, NnSightTypes types)
    {
        start.RegisterOperationAction(operation => Analyze(operation, types), OperationKind.Invocation);
    }

    private static void Analyze(OperationAnalysisContext context, NnSightTypes types)
    {
        var apply = (IInvocationOperation)context.Operation;
        if (apply.TargetMethod.Name != "Apply" || !NnSightTypes.Is(apply.TargetMethod.ContainingType, types.TensorProxy))
        {
            return;
        }
        var model = apply.SemanticModel!;
        var remote = TracingScopes.Enclosing(apply.Syntax, model, types, context.CancellationToken)
            .Where(scope => scope.Kind == ScopeKind.Trace && scope.Creation is not null)
            .Select(scope => model.GetOperation(scope.Creation!, context.CancellationToken))
            .OfType<IInvocationOperation>()
            .FirstOrDefault(IsRemote);
        if (remote is not null)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.LocalCodeInRemoteTrace, apply.Syntax.GetLocation(), remote.Syntax.ToString()));
        }
    }

    private static bool IsRemote(IInvocationOperation creation) =>
        creation.Arguments.Any(argument => argument.Parameter?.Type.Name == "RemoteSettings" && argument.ArgumentKind != ArgumentKind.DefaultValue
            || argument.Parameter?.Name == "remote" && argument.Value.ConstantValue is { HasValue: true, Value: true }
            || argument.Parameter?.Name == "server" && argument.ArgumentKind != ArgumentKind.DefaultValue
                && argument.Value.ConstantValue is not { HasValue: true, Value: null });
}
