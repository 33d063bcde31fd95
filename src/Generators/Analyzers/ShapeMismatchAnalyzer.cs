using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0111: a setting or an operation whose shapes cannot match for any batch size and sequence length, with both
/// shapes in config terms (<c>[batch, seq, 2304]</c> set into <c>[batch, seq, 768]</c>). Shapes start at the
/// generator's <c>[Shape]</c> metadata and follow the method's values (<see cref="ShapeFlow"/>) by TorchSharp's rules
/// (<see cref="ShapeRules"/>); a value whose shape is not known is never judged.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ShapeMismatchAnalyzer : NnSightAnalyzer
{
    /// <summary>Creates the analyzer of its rule.</summary>
    public ShapeMismatchAnalyzer() : base(DiagnosticDescriptors.ShapeMismatchSetting, DiagnosticDescriptors.ShapeMismatchSkip,
        DiagnosticDescriptors.ShapeMismatchOperands, DiagnosticDescriptors.ShapeMismatchCall, DiagnosticDescriptors.ShapeMismatchValue)
    {
    }

    /// <inheritdoc />
    private protected override void Register(CompilationStartAnalysisContext start, NnSightTypes types)
    {
        if (ShapeMetadata.From(start.Compilation) is { } metadata && types.TupleProxy is not null)
        {
            start.RegisterOperationBlockAction(block => Analyze(block, types, metadata));
        }
    }

    /// <summary>Judges every candidate operation of each body, with one flow (and its cache of shapes) per body.</summary>
    private static void Analyze(OperationBlockAnalysisContext context, NnSightTypes types, ShapeMetadata metadata)
    {
        foreach (var block in context.OperationBlocks)
        {
            ShapeFlow? flow = null;
            foreach (var operation in block.DescendantsAndSelf())
            {
                if (!ShapeFlow.IsCandidate(operation, types))
                {
                    continue;
                }
                context.CancellationToken.ThrowIfCancellationRequested();
                flow ??= new ShapeFlow(types, metadata, block);
                if (flow.ProblemOf(operation) is { } problem)
                {
                    context.ReportDiagnostic(Diagnostic.Create(problem.Descriptor, operation.Syntax.GetLocation(), problem.Arguments));
                }
            }
        }
    }
}
