using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>
/// NNS0106: within one Invoke block and step (between <c>Next()</c> calls), a module's output is set after the output
/// of a module that runs later in the forward pass was read (setting <c>H[3].Output</c> after reading
/// <c>H[5].Output</c>). Uses the generator's forward-order metadata; a warning, since whether the set really depends on
/// the read is a matter of data.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class AccessOutOfForwardOrderAnalyzer : NnSightAnalyzer
{
    /// <summary>Creates the analyzer of its rule.</summary>
    public AccessOutOfForwardOrderAnalyzer() : base(DiagnosticDescriptors.AccessOutOfForwardOrder)
    {
    }

    /// <inheritdoc />
    private protected override void Register(CompilationStartAnalysisContext start, NnSightTypes types)
    {
        start.RegisterSyntaxNodeAction(node => AnalyzeScope(node, types),
            SyntaxKind.UsingStatement, SyntaxKind.LocalDeclarationStatement, SyntaxKind.ParenthesizedLambdaExpression);
    }

    private sealed record Access(ModuleLocation Module, bool IsWrite, SyntaxNode Syntax, int Step);

    private static void AnalyzeScope(SyntaxNodeAnalysisContext context, NnSightTypes types)
    {
        var region = InvokeRegion(context.Node, context.SemanticModel, types, context.CancellationToken);
        if (region is null)
        {
            return;
        }
        var accesses = new List<Access>();
        var step = 0;
        foreach (var node in region.Value.Nodes)
        {
            if (node is InvocationExpressionSyntax call && context.SemanticModel.GetOperation(call, context.CancellationToken) is IInvocationOperation
                { TargetMethod.Name: "Next" } next && NnSightTypes.Is(next.TargetMethod.ContainingType, types.Invoker))
            {
                step++;
            }
            else if (node is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Output" } member
                && context.SemanticModel.GetOperation(member, context.CancellationToken) is IPropertyReferenceOperation output
                && NnSightTypes.Is(output.Property.ContainingType, types.Envoy)
                && ModuleLocations.Resolve(output.Instance, types) is { } module)
            {
                accesses.Add(new Access(module, IsWrite(output), member, step));
            }
        }
        foreach (var write in accesses.Where(access => access.IsWrite))
        {
            var later = accesses.FirstOrDefault(read => !read.IsWrite && read.Step == write.Step
                && read.Syntax.SpanStart < write.Syntax.SpanStart && read.Module.Order > write.Module.Order);
            if (later is not null)
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.AccessOutOfForwardOrder, write.Syntax.GetLocation(),
                    write.Syntax.ToString(), later.Syntax.ToString(), write.Module.Path, later.Module.Path));
            }
        }
    }

    /// <summary>The statements of an Invoke block, when <paramref name="node"/> opens one.</summary>
    private static (IEnumerable<SyntaxNode> Nodes, bool Found)? InvokeRegion(SyntaxNode node, SemanticModel model, NnSightTypes types,
        System.Threading.CancellationToken token)
    {
        switch (node)
        {
            case UsingStatementSyntax usingStatement when IsInvoker(usingStatement.Declaration?.Variables.LastOrDefault()?.Initializer?.Value ?? usingStatement.Expression, model, types, token):
                return (usingStatement.Statement.DescendantNodesAndSelf(), true);
            case LocalDeclarationStatementSyntax { UsingKeyword.RawKind: (int)SyntaxKind.UsingKeyword } declaration
                when IsInvoker(declaration.Declaration.Variables.LastOrDefault()?.Initializer?.Value, model, types, token):
                return (Following(declaration).SelectMany(statement => statement.DescendantNodesAndSelf()), true);
            case ParenthesizedLambdaExpressionSyntax { Parent: ArgumentSyntax { Parent.Parent: InvocationExpressionSyntax invocation } } lambda
                when model.GetSymbolInfo(invocation, token).Symbol is IMethodSymbol { Name: "Invoke" } method && NnSightTypes.Is(method.ContainingType, types.Tracer):
                return (lambda.Body.DescendantNodesAndSelf(), true);
            default:
                return null;
        }
    }

    /// <summary>The statements after <paramref name="declaration"/> in its block or top-level program.</summary>
    private static IEnumerable<StatementSyntax> Following(StatementSyntax declaration) => declaration.Parent switch
    {
        BlockSyntax block => block.Statements.SkipWhile(statement => statement != declaration).Skip(1),
        GlobalStatementSyntax { Parent: CompilationUnitSyntax program } => program.Members.OfType<GlobalStatementSyntax>()
            .Select(member => member.Statement).SkipWhile(statement => statement != declaration).Skip(1),
        _ => Enumerable.Empty<StatementSyntax>(),
    };

    private static bool IsInvoker(ExpressionSyntax? resource, SemanticModel model, NnSightTypes types, System.Threading.CancellationToken token) =>
        resource is not null && NnSightTypes.Is(model.GetTypeInfo(resource, token).Type, types.Invoker);

    /// <summary>Whether the output is the target of an assignment, directly or through element and index accesses.</summary>
    private static bool IsWrite(IOperation output)
    {
        var current = output;
        while (current.Parent is IPropertyReferenceOperation { Property.IsIndexer: true } indexer && indexer.Instance == current
            || current.Parent is IConversionOperation)
        {
            current = current.Parent;
        }
        return current.Parent is ISimpleAssignmentOperation assignment && assignment.Target == current;
    }
}
