using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NnSight.Generators.Analyzers;

/// <summary>What kind of region a scope is.</summary>
internal enum ScopeKind
{
    /// <summary>A tracing context (<c>Trace</c> or <c>Generate</c>): recorded, run when disposed.</summary>
    Trace,

    /// <summary>An invocation of a trace.</summary>
    Invoke,
}

/// <summary>
/// A region of source where a tracing context or an invocation is open: the body of a <c>using</c> statement, the rest
/// of a block after a <c>using</c> declaration, or a lambda passed to <c>Trace</c>/<c>Generate</c>/<c>Invoke</c>.
/// </summary>
/// <param name="Kind">Trace or invocation.</param>
/// <param name="Region">The syntax the scope covers.</param>
/// <param name="Start">Where the scope begins (for a using declaration, the declaration).</param>
/// <param name="Creation">The expression that created the context (<c>model.Generate(maxNewTokens: 3)</c>), when known.</param>
internal sealed record TracingScope(ScopeKind Kind, SyntaxNode Region, int Start, ExpressionSyntax? Creation)
{
    /// <summary>Whether <paramref name="node"/> lies inside the scope.</summary>
    public bool Contains(SyntaxNode node) => Region.Span.Contains(node.Span) && node.SpanStart >= Start;
}

/// <summary>Finds the tracing scopes around a piece of syntax, lexically.</summary>
internal static class TracingScopes
{
    /// <summary>The scopes enclosing <paramref name="node"/>, innermost first, up to its member declaration.</summary>
    public static List<TracingScope> Enclosing(SyntaxNode node, SemanticModel model, NnSightTypes types, CancellationToken token)
    {
        var scopes = new List<TracingScope>();
        SyntaxNode? child = node;
        for (var current = node.Parent; current is not null; child = current, current = current.Parent)
        {
            if (current is GlobalStatementSyntax { Parent: CompilationUnitSyntax program } global)
            {
                var statements = program.Members.OfType<GlobalStatementSyntax>().Select(member => member.Statement);
                AddDeclarations(scopes, program, statements.TakeWhile(statement => statement != global.Statement), model, types, token);
                break;
            }
            if (current is MemberDeclarationSyntax)
            {
                break;
            }
            switch (current)
            {
                case UsingStatementSyntax usingStatement when usingStatement.Statement == child:
                    AddResource(scopes, usingStatement, usingStatement.Declaration, usingStatement.Expression, usingStatement.Statement.SpanStart, model, types, token);
                    break;
                case BlockSyntax block:
                    AddDeclarations(scopes, block, block.Statements.TakeWhile(statement => statement != child), model, types, token);
                    break;
                case AnonymousFunctionExpressionSyntax lambda when lambda.Parent is ArgumentSyntax { Parent.Parent: InvocationExpressionSyntax invocation }:
                    AddLambda(scopes, lambda, invocation, model, types, token);
                    break;
            }
        }
        return scopes;
    }

    /// <summary>The expression that created a tracing context held by <paramref name="expression"/> (following one local).</summary>
    public static ExpressionSyntax? Creation(ExpressionSyntax? expression, SemanticModel model, CancellationToken token)
    {
        if (expression is IdentifierNameSyntax identifier && model.GetSymbolInfo(identifier, token).Symbol is ILocalSymbol local)
        {
            return local.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(token) is VariableDeclaratorSyntax { Initializer.Value: var initializer }
                ? initializer
                : null;
        }
        return expression;
    }

    /// <summary>Scopes of the <c>using</c> declarations among <paramref name="preceding"/>, which run to the end of <paramref name="region"/>.</summary>
    private static void AddDeclarations(List<TracingScope> scopes, SyntaxNode region, IEnumerable<StatementSyntax> preceding,
        SemanticModel model, NnSightTypes types, CancellationToken token)
    {
        foreach (var statement in preceding.Reverse())
        {
            if (statement is LocalDeclarationStatementSyntax { UsingKeyword.RawKind: (int)SyntaxKind.UsingKeyword } declaration)
            {
                AddResource(scopes, region, declaration.Declaration, null, declaration.Span.End, model, types, token);
            }
        }
    }

    private static void AddResource(List<TracingScope> scopes, SyntaxNode region, VariableDeclarationSyntax? declaration, ExpressionSyntax? expression,
        int start, SemanticModel model, NnSightTypes types, CancellationToken token)
    {
        var resources = declaration is not null
            ? declaration.Variables.Select(variable => variable.Initializer?.Value)
            : new[] { expression };
        foreach (var resource in resources.Reverse())
        {
            if (resource is null)
            {
                continue;
            }
            var type = model.GetTypeInfo(resource, token).Type;
            if (NnSightTypes.Is(type, types.Invoker))
            {
                scopes.Add(new TracingScope(ScopeKind.Invoke, region, start, Creation(resource, model, token)));
            }
            else if (NnSightTypes.Is(type, types.Tracer))
            {
                scopes.Add(new TracingScope(ScopeKind.Trace, region, start, Creation(resource, model, token)));
            }
        }
    }

    private static void AddLambda(List<TracingScope> scopes, AnonymousFunctionExpressionSyntax lambda, InvocationExpressionSyntax invocation,
        SemanticModel model, NnSightTypes types, CancellationToken token)
    {
        if (model.GetSymbolInfo(invocation, token).Symbol is not IMethodSymbol method)
        {
            return;
        }
        if (method.Name == "Invoke" && NnSightTypes.Is(method.ContainingType, types.Tracer))
        {
            scopes.Add(new TracingScope(ScopeKind.Invoke, lambda, lambda.SpanStart, invocation));
        }
        else if (method.Name is "Trace" or "Generate" && NnSightTypes.Is(method.ContainingType, types.Model))
        {
            scopes.Add(new TracingScope(ScopeKind.Trace, lambda, lambda.SpanStart, invocation));
        }
    }
}
