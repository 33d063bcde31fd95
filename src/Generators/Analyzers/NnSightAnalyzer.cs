using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// What every NnSight usage analyzer shares: one rule (one id, with one descriptor per message it gives), concurrent
/// execution, generated code skipped, and nothing registered in a compilation that does not reference NnSight.
/// </summary>
public abstract class NnSightAnalyzer : DiagnosticAnalyzer
{
    private protected NnSightAnalyzer(params DiagnosticDescriptor[] descriptors)
    {
        SupportedDiagnostics = [.. descriptors];
    }

    /// <inheritdoc />
    public sealed override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; }

    /// <inheritdoc />
    public sealed override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            if (NnSightTypes.From(start.Compilation) is { } types)
            {
                Register(start, types);
            }
        });
    }

    /// <summary>Registers the rule's actions in a compilation that references NnSight.</summary>
    private protected abstract void Register(CompilationStartAnalysisContext start, NnSightTypes types);
}
