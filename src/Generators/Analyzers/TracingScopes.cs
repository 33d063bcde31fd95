using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace NnSight.Generators.Analyzers;

/// <summary>What kind of region a scope is.</summary>
internal enum ScopeKind
{
    /// <summary>A tracing context (<c>Trace</c> or <c>Generate</c>): recorded, run when disposed.</summary>
    Trace,

    /// <summary>An invocation of a trace.</summary>
    Invoke,

    /// <summary>An <c>invoker.All()</c> or <c>invoker.Steps(range)</c> scope: what it records applies at several steps.</summary>
    Steps,
}

/// <summary>
/// A region of source where a tracing context, an invocation or a step scope is open: the body of a <c>using</c>
/// statement, the rest of a block after a <c>using</c> declaration, a lambda passed to <c>Trace</c>/<c>Generate</c>/<c>Invoke</c>,
/// or the statements after an invoker or step scope held without <c>using</c> up to the one that disposes it.
/// </summary>
/// <param name="Kind">Trace, invocation or step scope.</param>
/// <param name="Span">The source the scope covers.</param>
/// <param name="Creation">
/// The expression that created the context (<c>model.Generate(maxNewTokens: 3)</c>, <c>invoker.All()</c>), when known.
/// </param>
internal sealed record TracingScope(ScopeKind Kind, TextSpan Span, ExpressionSyntax? Creation)
{
    /// <summary>Whether <paramref name="node"/> lies inside the scope.</summary>
    public bool Contains(SyntaxNode node) => Span.Contains(node.Span);
}

/// <summary>Finds the tracing scopes around a piece of syntax, lexically.</summary>
internal static class TracingScopes
{
    /// <summary>
    /// The scopes enclosing <paramref name="node"/>, innermost first, up to its member declaration or the lambda or local
    /// function it is in (other than a lambda passed to <c>Trace</c>/<c>Generate</c>/<c>Invoke</c>).
    /// </summary>
    public static List<TracingScope> Enclosing(SyntaxNode node, SemanticModel model, NnSightTypes types, CancellationToken token)
    {
        var scopes = new List<TracingScope>();
        SyntaxNode? child = node;
        for (var current = node.Parent; current is not null; child = current, current = current.Parent)
        {
            if (current is GlobalStatementSyntax { Parent: CompilationUnitSyntax program } global)
            {
                var statements = program.Members.OfType<GlobalStatementSyntax>().Select(member => member.Statement).ToList();
                AddDeclarations(scopes, program, statements, statements.IndexOf(global.Statement), model, types, token);
                break;
            }
            if (current is MemberDeclarationSyntax)
            {
                break;
            }
            switch (current)
            {
                case UsingStatementSyntax usingStatement when usingStatement.Statement == child:
                    AddResource(scopes, usingStatement.Statement.Span, usingStatement.Declaration, usingStatement.Expression, model, types, token);
                    break;
                case BlockSyntax block when child is StatementSyntax statement:
                    AddDeclarations(scopes, block, block.Statements, block.Statements.IndexOf(statement), model, types, token);
                    break;
                case AnonymousFunctionExpressionSyntax lambda when LambdaScope(lambda, model, types, token) is { } scope:
                    scopes.Add(scope);
                    break;
                case AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax:
                    // Other lambdas and local functions run whenever they are called, inside or outside these scopes.
                    return scopes;
            }
        }
        return scopes;
    }

    /// <summary>
    /// The expression that created the tracing context or invoker held by <paramref name="expression"/>, following a
    /// local to its initializer and a lambda's parameter to the call the lambda is passed to
    /// (<c>model.Generate(gen =&gt; ...)</c>, <c>tracer.Invoke(prompt, invoker =&gt; ...)</c>).
    /// </summary>
    public static ExpressionSyntax? Creation(ExpressionSyntax? expression, SemanticModel model, CancellationToken token)
    {
        if (expression is not IdentifierNameSyntax identifier)
        {
            return expression;
        }
        var symbol = model.GetSymbolInfo(identifier, token).Symbol;
        var declaration = symbol?.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(token);
        return symbol switch
        {
            ILocalSymbol => declaration is VariableDeclaratorSyntax { Initializer.Value: var initializer } ? initializer : null,
            IParameterSymbol { ContainingSymbol: IMethodSymbol { MethodKind: MethodKind.AnonymousFunction } } =>
                declaration?.FirstAncestorOrSelf<AnonymousFunctionExpressionSyntax>()?.Parent is ArgumentSyntax { Parent.Parent: InvocationExpressionSyntax call }
                    ? call
                    : null,
            _ => expression,
        };
    }

    /// <summary>
    /// Scopes opened by the statements before <paramref name="statements"/>[<paramref name="index"/>]: a <c>using</c>
    /// declaration's runs to the end of <paramref name="region"/>; an invoker's or step scope's held without <c>using</c>
    /// runs to the statement that disposes it, or to the end of the region when none does.
    /// </summary>
    private static void AddDeclarations(List<TracingScope> scopes, SyntaxNode region, IReadOnlyList<StatementSyntax> statements, int index,
        SemanticModel model, NnSightTypes types, CancellationToken token)
    {
        for (var opening = index - 1; opening >= 0; opening--)
        {
            var statement = statements[opening];
            if (statement is LocalDeclarationStatementSyntax { UsingKeyword.RawKind: (int)SyntaxKind.UsingKeyword } declaration)
            {
                AddResource(scopes, TextSpan.FromBounds(declaration.Span.End, region.Span.End), declaration.Declaration, null, model, types, token);
            }
            else if (HeldScope(statement, model, types, token) is { } held)
            {
                var disposal = held.Variable is null
                    ? null
                    : statements.Skip(opening + 1).FirstOrDefault(later => Disposes(later, held.Variable, model, token));
                var end = disposal?.Span.End ?? region.Span.End;
                if (end >= statements[index].Span.End)
                {
                    scopes.Add(new TracingScope(held.Kind, TextSpan.FromBounds(statement.Span.End, end), Creation(held.Value, model, token)));
                }
            }
        }
    }

    /// <summary>
    /// The invoker or step scope a statement opens without <c>using</c> (<c>var inv = tracer.Invoke(p);</c>,
    /// <c>inv = ...;</c>, <c>tracer.Invoke(p);</c> or <c>var all = inv.All();</c>) and the variable that holds it (null
    /// when discarded). A tracing context held without <c>using</c> is not a scope: it is usually disposed by a later
    /// <c>using (tracer)</c>.
    /// </summary>
    private static (ScopeKind Kind, ISymbol? Variable, ExpressionSyntax Value)? HeldScope(StatementSyntax statement, SemanticModel model,
        NnSightTypes types, CancellationToken token)
    {
        (ISymbol? Variable, ExpressionSyntax? Value) held = statement switch
        {
            LocalDeclarationStatementSyntax { UsingKeyword.RawKind: (int)SyntaxKind.None, Declaration.Variables: { Count: 1 } variables } =>
                (model.GetDeclaredSymbol(variables[0], token), variables[0].Initializer?.Value),
            ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax { RawKind: (int)SyntaxKind.SimpleAssignmentExpression } assignment } =>
                (model.GetSymbolInfo(assignment.Left, token).Symbol, assignment.Right),
            ExpressionStatementSyntax { Expression: var value } => (null, value),
            _ => (null, null),
        };
        return held.Value is not null && KindOf(held.Value, model, types, token) is ScopeKind kind and (ScopeKind.Invoke or ScopeKind.Steps)
            ? (kind, held.Variable, held.Value)
            : null;
    }

    /// <summary>
    /// Whether <paramref name="statement"/> certainly disposes <paramref name="variable"/>: <c>x.Dispose();</c>,
    /// <c>x?.Dispose();</c>, <c>using (x) { ... }</c>, or a try whose finally block does.
    /// </summary>
    private static bool Disposes(StatementSyntax statement, ISymbol variable, SemanticModel model, CancellationToken token)
    {
        var receiver = statement switch
        {
            ExpressionStatementSyntax { Expression: InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Dispose" } access } } =>
                access.Expression,
            ExpressionStatementSyntax { Expression: ConditionalAccessExpressionSyntax
                { WhenNotNull: InvocationExpressionSyntax { Expression: MemberBindingExpressionSyntax { Name.Identifier.ValueText: "Dispose" } } } conditional } =>
                conditional.Expression,
            UsingStatementSyntax { Expression: { } resource } => resource,
            _ => null,
        };
        return receiver is not null
            ? SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(receiver, token).Symbol, variable)
            : statement is TryStatementSyntax { Finally.Block.Statements: var final } && final.Any(inner => Disposes(inner, variable, model, token));
    }

    private static void AddResource(List<TracingScope> scopes, TextSpan span, VariableDeclarationSyntax? declaration, ExpressionSyntax? expression,
        SemanticModel model, NnSightTypes types, CancellationToken token)
    {
        var resources = declaration is not null
            ? declaration.Variables.Select(variable => variable.Initializer?.Value)
            : new[] { expression };
        foreach (var resource in resources.Reverse())
        {
            if (resource is not null && KindOf(resource, model, types, token) is { } kind)
            {
                scopes.Add(new TracingScope(kind, span, Creation(resource, model, token)));
            }
        }
    }

    /// <summary>
    /// The scope a disposable value opens: a tracing context, an invoker, or the step scope of <c>invoker.All()</c> /
    /// <c>invoker.Steps(range)</c> (directly or through a local); null for other values.
    /// </summary>
    private static ScopeKind? KindOf(ExpressionSyntax value, SemanticModel model, NnSightTypes types, CancellationToken token)
    {
        var type = model.GetTypeInfo(value, token).Type;
        if (NnSightTypes.Is(type, types.Invoker))
        {
            return ScopeKind.Invoke;
        }
        if (NnSightTypes.Is(type, types.Tracer))
        {
            return ScopeKind.Trace;
        }
        return Creation(value, model, token) is { } creation && OpensSteps(creation, model, types, token) ? ScopeKind.Steps : null;
    }

    /// <summary>Whether <paramref name="expression"/> calls <c>invoker.All()</c> or <c>invoker.Steps(range)</c>.</summary>
    private static bool OpensSteps(ExpressionSyntax expression, SemanticModel model, NnSightTypes types, CancellationToken token) =>
        model.GetSymbolInfo(expression, token).Symbol is IMethodSymbol { Name: "All" or "Steps" } method
        && NnSightTypes.Is(method.ContainingType, types.Invoker);

    /// <summary>The scope of a lambda passed to <c>Trace</c>/<c>Generate</c>/<c>Invoke</c>; null for other lambdas.</summary>
    private static TracingScope? LambdaScope(AnonymousFunctionExpressionSyntax lambda, SemanticModel model, NnSightTypes types, CancellationToken token)
    {
        if (lambda.Parent is not ArgumentSyntax { Parent.Parent: InvocationExpressionSyntax invocation }
            || model.GetSymbolInfo(invocation, token).Symbol is not IMethodSymbol method)
        {
            return null;
        }
        if (method.Name == "Invoke" && NnSightTypes.Is(method.ContainingType, types.Tracer))
        {
            return new TracingScope(ScopeKind.Invoke, lambda.Span, invocation);
        }
        return method.Name is "Trace" or "Generate" && NnSightTypes.Is(method.ContainingType, types.Model)
            ? new TracingScope(ScopeKind.Trace, lambda.Span, invocation)
            : null;
    }
}
