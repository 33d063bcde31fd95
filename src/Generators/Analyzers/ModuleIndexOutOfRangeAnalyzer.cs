using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0101: a constant index outside a typed module list (<c>H[12]</c> or <c>H[^13]</c> on 12 layers), including the
/// largest value of a <c>for</c> loop with constant bounds, and Python's negative indices (<c>H[-1]</c>).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ModuleIndexOutOfRangeAnalyzer : NnSightAnalyzer
{
    /// <summary>The diagnostic property that marks a negative literal, which the code fix turns into <c>^k</c>.</summary>
    public const string FromEndProperty = "FromEnd";

    /// <summary>Creates the analyzer of its rule.</summary>
    public ModuleIndexOutOfRangeAnalyzer() : base(DiagnosticDescriptors.ModuleIndexOutOfRange)
    {
    }

    /// <inheritdoc />
    private protected override void Register(CompilationStartAnalysisContext start, NnSightTypes types)
    {
        start.RegisterOperationAction(operation => Analyze(operation, types), OperationKind.PropertyReference);
    }

    private static void Analyze(OperationAnalysisContext context, NnSightTypes types)
    {
        var element = (IPropertyReferenceOperation)context.Operation;
        if (!element.Property.IsIndexer || !NnSightTypes.Is(element.Instance?.Type, types.EnvoyList)
            || ModuleLocations.ResolveList(element.Instance, types) is not { } list)
        {
            return;
        }
        var argument = element.Arguments.FirstOrDefault()?.Value;
        var syntax = argument?.Syntax ?? element.Syntax;
        var name = element.Instance!.Syntax.ToString();
        var modules = $"{list.Path} has {list.Length} modules (0 to {list.Length - 1}, or ^1 to ^{list.Length})";

        if (argument is IConversionOperation { Operand.ConstantValue: { HasValue: true, Value: int negative } } && negative < 0)
        {
            var properties = ImmutableDictionary<string, string?>.Empty.Add(FromEndProperty, (-negative).ToString(System.Globalization.CultureInfo.InvariantCulture));
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ModuleIndexOutOfRange, syntax.GetLocation(), properties,
                $"{name}[{negative}] counts from the end in Python, but a negative index is invalid in C#; write {name}[^{-negative}]"));
            return;
        }
        if (ModuleLocations.ConstantIndex(argument, list.Length) is { } position)
        {
            if (position < 0 || position >= list.Length)
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ModuleIndexOutOfRange, syntax.GetLocation(),
                    $"{name}[{syntax}] is out of range: {modules}"));
            }
            return;
        }
        if (LoopMaximum(argument) is { } loop && loop.Maximum >= list.Length)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ModuleIndexOutOfRange, syntax.GetLocation(),
                $"{name}[{syntax}] reaches {loop.Maximum} in this loop ({loop.Condition}), but {modules}"));
        }
    }

    /// <summary>The largest value of a counting loop's variable (<see cref="CountingLoops"/>) used as the index.</summary>
    private static (int Maximum, string Condition)? LoopMaximum(IOperation? index)
    {
        index = index is IConversionOperation conversion ? conversion.Operand : index;
        return index is ILocalReferenceOperation local
            && local.Local.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() is VariableDeclaratorSyntax { Parent.Parent: ForStatementSyntax loop }
            && CountingLoops.LastValue(loop, local.Local.Name, index.SemanticModel!) is { } maximum
                ? (maximum, loop.Condition!.ToString())
                : null;
    }
}
