using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

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
    private static readonly OperationKind[] NotedKinds = [.. ShapeFlow.WriteKinds.Concat(ShapeFlow.CandidateKinds).Distinct()];

    /// <summary>Creates the analyzer of its rule.</summary>
    public ShapeMismatchAnalyzer() : base(DiagnosticDescriptors.ShapeMismatchSetting, DiagnosticDescriptors.ShapeMismatchSkip,
        DiagnosticDescriptors.ShapeMismatchOperands, DiagnosticDescriptors.ShapeMismatchCall, DiagnosticDescriptors.ShapeMismatchValue)
    {
    }

    /// <inheritdoc />
    private protected override void Register(CompilationStartAnalysisContext start, NnSightTypes types)
    {
        if (ShapeMetadata.From(start.Compilation) is not { } metadata || types.TupleProxy is null)
        {
            return;
        }
        // One flow per body. The driver visits the body's operations once for every analyzer: the flow notes the
        // writes of locals and the operations to judge as they come, and judges them when the body ends, when every
        // write is known.
        start.RegisterOperationBlockStartAction(block =>
        {
            var body = new Body(new ShapeFlow(types, metadata));
            block.RegisterOperationAction(operation => body.Note(operation.Operation, types), NotedKinds);
            block.RegisterOperationBlockEndAction(body.Report);
        });
    }

    /// <summary>The operations of one body to judge, in the order the driver visited them, and its flow.</summary>
    private sealed class Body(ShapeFlow flow)
    {
        private readonly List<IOperation> _candidates = [];

        public void Note(IOperation operation, NnSightTypes types)
        {
            lock (_candidates)
            {
                flow.NoteWrite(operation);
                if (ShapeFlow.IsCandidate(operation, types))
                {
                    _candidates.Add(operation);
                }
            }
        }

        public void Report(OperationBlockAnalysisContext context)
        {
            lock (_candidates)
            {
                foreach (var operation in _candidates)
                {
                    context.CancellationToken.ThrowIfCancellationRequested();
                    if (flow.ProblemOf(operation) is { } problem)
                    {
                        context.ReportDiagnostic(Diagnostic.Create(problem.Descriptor, operation.Syntax.GetLocation(), problem.Arguments));
                    }
                }
            }
        }
    }
}
