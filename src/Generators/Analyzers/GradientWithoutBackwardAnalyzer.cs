using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0108: <c>.Grad</c> read or set in a trace that never calls <c>Backward()</c>. Only a trace that runs a backward
/// pass has gradients. The trace is judged only when all of it is visible: any call of a method declared in source
/// inside it might call <c>Backward()</c>, so such a trace is left alone.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class GradientWithoutBackwardAnalyzer : NnSightAnalyzer
{
    /// <summary>Creates the analyzer of its rule.</summary>
    public GradientWithoutBackwardAnalyzer() : base(DiagnosticDescriptors.GradientWithoutBackward)
    {
    }

    /// <inheritdoc />
    private protected override void Register(CompilationStartAnalysisContext start, NnSightTypes types)
    {
        start.RegisterOperationAction(operation => Analyze(operation, types), OperationKind.PropertyReference);
    }

    private static void Analyze(OperationAnalysisContext context, NnSightTypes types)
    {
        var reference = (IPropertyReferenceOperation)context.Operation;
        if (reference.Property.Name != "Grad" || !NnSightTypes.Is(reference.Property.ContainingType, types.TensorProxy))
        {
            return;
        }
        var model = reference.SemanticModel!;
        var trace = TracingScopes.Enclosing(reference.Syntax, model, types, context.CancellationToken)
            .LastOrDefault(scope => scope.Kind == ScopeKind.Trace);
        if (trace is null)
        {
            return;
        }
        foreach (var call in reference.Syntax.SyntaxTree.GetRoot(context.CancellationToken).DescendantNodes(trace.Span).OfType<InvocationExpressionSyntax>())
        {
            if (!trace.Span.Contains(call.Span))
            {
                continue;
            }
            if (model.GetSymbolInfo(call, context.CancellationToken).Symbol is not IMethodSymbol method)
            {
                return;
            }
            if ((method.Name == "Backward" && NnSightTypes.Is(method.ContainingType, types.TensorProxy)) || method.Locations.Any(location => location.IsInSource))
            {
                return;
            }
        }
        context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.GradientWithoutBackward, reference.Syntax.GetLocation(), reference.Instance!.Syntax.ToString()));
    }
}
