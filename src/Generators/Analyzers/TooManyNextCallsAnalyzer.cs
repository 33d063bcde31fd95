using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0105: steps past the run's forward passes, and steps taken where the run refuses them. A generation of a
/// constant <c>maxNewTokens</c> n has n passes (steps 0 to n − 1), a trace has one.
/// <list type="bullet">
/// <item><c>invoker.Next()</c> called more than n − 1 times. Calls are counted per invoker (a local, or the parameter of
/// <c>tracer.Invoke(prompt, invoker =&gt; ...)</c>): inside constant-bound for loops once per iteration, except loops
/// that create a new invoker per iteration. Calls in other loops, lambdas and local functions, and variables assigned
/// another invoker, are not judged.</item>
/// <item><c>invoker.Steps(range)</c> whose constant range reaches outside steps 0 to n − 1 (an empty range inside them
/// is left alone).</item>
/// <item><c>Next()</c> inside an <c>All()</c> or <c>Steps()</c> scope, which covers its steps itself.</item>
/// </list>
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class TooManyNextCallsAnalyzer : NnSightAnalyzer
{
    /// <summary>Creates the analyzer of its rule.</summary>
    public TooManyNextCallsAnalyzer()
        : base(DiagnosticDescriptors.TooManyNextCalls, DiagnosticDescriptors.StepsPastLastPass, DiagnosticDescriptors.NextInsideSteps)
    {
    }

    /// <inheritdoc />
    private protected override void Register(CompilationStartAnalysisContext start, NnSightTypes types)
    {
        start.RegisterOperationAction(operation => Analyze(operation, types), OperationKind.Invocation);
    }

    private static void Analyze(OperationAnalysisContext context, NnSightTypes types)
    {
        var call = (IInvocationOperation)context.Operation;
        if (!NnSightTypes.Is(call.TargetMethod.ContainingType, types.Invoker))
        {
            return;
        }
        switch (call.TargetMethod.Name)
        {
            case "Next":
                AnalyzeNext(context, call, types);
                break;
            case "Steps":
                AnalyzeSteps(context, call, types);
                break;
        }
    }

    private static void AnalyzeNext(OperationAnalysisContext context, IInvocationOperation next, NnSightTypes types)
    {
        var model = next.SemanticModel!;
        var stepScope = TracingScopes.Enclosing(next.Syntax, model, types, context.CancellationToken)
            .FirstOrDefault(scope => scope.Kind == ScopeKind.Steps);
        if (stepScope is not null)
        {
            // The run refuses this call whatever the count, so it gets that message and no other.
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.NextInsideSteps, next.Syntax.GetLocation(),
                next.Instance!.Syntax.ToString(), stepScope.Creation!.ToString()));
            return;
        }
        if (Variable(next.Instance) is not { } invoker
            || invoker.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(context.CancellationToken) is not { } declaration
            || Passes(next.Instance!.Syntax as ExpressionSyntax, model, types, context.CancellationToken) is not { } passes)
        {
            return;
        }
        var body = declaration.Ancestors().First(node => node is BaseMethodDeclarationSyntax or LocalFunctionStatementSyntax
            or AccessorDeclarationSyntax or AnonymousFunctionExpressionSyntax or CompilationUnitSyntax);
        // A variable assigned again holds one invoker after another, whose calls cannot be told apart.
        if (body.DescendantNodes().OfType<AssignmentExpressionSyntax>()
            .Any(assignment => SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(assignment.Left, context.CancellationToken).Symbol, invoker)))
        {
            return;
        }
        var calls = body.DescendantNodes().OfType<InvocationExpressionSyntax>()
            .Where(call => call.Expression is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Next" })
            .Select(call => model.GetOperation(call, context.CancellationToken))
            .OfType<IInvocationOperation>()
            .Where(call => IsNext(call, types) && SymbolEqualityComparer.Default.Equals(Variable(call.Instance), invoker))
            .Select(call => (call.Syntax.SpanStart, Count: Repetitions(call.Syntax, declaration, model)))
            .ToList();
        if (calls.Any(call => call.Count is null))
        {
            return;
        }
        var allowed = passes.Count - 1;
        var before = calls.Where(call => call.SpanStart < next.Syntax.SpanStart).Sum(call => call.Count!.Value);
        var through = calls.Where(call => call.SpanStart <= next.Syntax.SpanStart).Sum(call => call.Count!.Value);
        // Reported once, on the call that goes past the last pass, with the invoker's total.
        if (before <= allowed && through > allowed)
        {
            var total = calls.Sum(call => call.Count!.Value);
            var explanation = passes.IsTrace
                ? "a trace runs one forward pass"
                : $"maxNewTokens: {passes.Count} gives {passes.Count} forward pass(es), so at most {allowed} Next() call(s)";
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.TooManyNextCalls, next.Syntax.GetLocation(),
                total.ToString(CultureInfo.InvariantCulture), invoker.Name, explanation));
        }
    }

    /// <summary>Reports a constant range that reaches outside the steps of a run with a known number of passes.</summary>
    private static void AnalyzeSteps(OperationAnalysisContext context, IInvocationOperation steps, NnSightTypes types)
    {
        if (steps.Arguments.FirstOrDefault()?.Value is not IRangeOperation range
            || Passes(steps.Instance?.Syntax as ExpressionSyntax, steps.SemanticModel!, types, context.CancellationToken) is not { } passes)
        {
            return;
        }
        var first = range.LeftOperand is null ? 0 : ModuleLocations.ConstantIndex(range.LeftOperand, passes.Count);
        var end = range.RightOperand is null ? passes.Count : ModuleLocations.ConstantIndex(range.RightOperand, passes.Count);
        if (first is { } start && end is { } stop && (start < 0 || start >= passes.Count || stop > passes.Count))
        {
            var available = passes.IsTrace ? "a trace has only step 0" : $"maxNewTokens: {passes.Count} gives steps 0 to {passes.Count - 1}";
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.StepsPastLastPass, range.Syntax.GetLocation(),
                range.Syntax.ToString(), available));
        }
    }

    private static bool IsNext(IInvocationOperation call, NnSightTypes types) =>
        call.TargetMethod.Name == "Next" && NnSightTypes.Is(call.TargetMethod.ContainingType, types.Invoker);

    /// <summary>The local or parameter (of <c>tracer.Invoke(prompt, invoker =&gt; ...)</c>) an invoker is called through.</summary>
    private static ISymbol? Variable(IOperation? instance) => instance switch
    {
        ILocalReferenceOperation local => local.Local,
        IParameterReferenceOperation parameter => parameter.Parameter,
        _ => null,
    };

    /// <summary>How many forward passes the run of the invoker held by <paramref name="invoker"/> has, when constant.</summary>
    private static (int Count, bool IsTrace)? Passes(ExpressionSyntax? invoker, SemanticModel model, NnSightTypes types, CancellationToken token)
    {
        if (TracingScopes.Creation(invoker, model, token) is not InvocationExpressionSyntax invoke
            || model.GetOperation(invoke, token) is not IInvocationOperation { TargetMethod.Name: "Invoke" } invokeCall
            || !NnSightTypes.Is(invokeCall.TargetMethod.ContainingType, types.Tracer)
            || TracingScopes.Creation(invokeCall.Instance?.Syntax as ExpressionSyntax, model, token) is not { } tracer
            || model.GetOperation(tracer, token) is not IInvocationOperation creation
            || !NnSightTypes.Is(creation.TargetMethod.ContainingType, types.Model))
        {
            return null;
        }
        if (creation.TargetMethod.Name == "Trace")
        {
            return (1, true);
        }
        var argument = creation.Arguments.FirstOrDefault(item => item.Parameter?.Name == "maxNewTokens");
        return argument?.Value.ConstantValue is { HasValue: true, Value: int tokens } ? (tokens, false) : null;
    }

    /// <summary>
    /// How many times a call certainly runs per invoker: 1 times the iterations of the constant-bound for loops between
    /// the invoker's declaration and the call (loops around the declaration create a new invoker each time); 0 under a
    /// condition (it may not run); null in other loops and in lambdas and local functions (unknown).
    /// </summary>
    private static int? Repetitions(SyntaxNode call, SyntaxNode invokerDeclaration, SemanticModel model)
    {
        var count = 1;
        foreach (var ancestor in call.Ancestors().TakeWhile(node => !node.Span.Contains(invokerDeclaration.Span)))
        {
            switch (ancestor)
            {
                case ForStatementSyntax loop:
                    if (Iterations(loop, model) is not { } iterations)
                    {
                        return null;
                    }
                    count *= iterations;
                    break;
                case IfStatementSyntax or SwitchSectionSyntax or ConditionalExpressionSyntax or CatchClauseSyntax:
                    return 0;
                case WhileStatementSyntax or DoStatementSyntax or ForEachStatementSyntax or AnonymousFunctionExpressionSyntax
                    or LocalFunctionStatementSyntax:
                    return null;
            }
        }
        return count;
    }

    /// <summary>
    /// The iterations of a counting loop (<see cref="CountingLoops"/>) with a constant start, when its body neither
    /// changes the counter nor leaves an iteration early (break, continue, return, goto).
    /// </summary>
    private static int? Iterations(ForStatementSyntax loop, SemanticModel model)
    {
        if (loop.Declaration?.Variables.Count != 1
            || loop.Declaration.Variables[0] is not { Initializer.Value: var start } variable
            || model.GetDeclaredSymbol(variable) is not ILocalSymbol counter
            || model.GetConstantValue(start).Value is not int first
            || CountingLoops.LastValue(loop, counter.Name, model) is not { } last
            || model.AnalyzeDataFlow(loop.Statement) is not { Succeeded: true } dataFlow
            || dataFlow.WrittenInside.Contains(counter, SymbolEqualityComparer.Default)
            || model.AnalyzeControlFlow(loop.Statement) is not { Succeeded: true, ExitPoints.IsEmpty: true })
        {
            return null;
        }
        return System.Math.Max(0, last - first + 1);
    }
}
