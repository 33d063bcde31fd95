using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NnSight.CodeFixes;

/// <summary>NNS0103: appends <c>.Save()</c> to every value assigned to the proxy local whose <c>.Value</c> is read.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(AddSaveCodeFix)), Shared]
public sealed class AddSaveCodeFix : CodeFixProvider
{
    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ["NNS0103"];

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        var model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        foreach (var diagnostic in context.Diagnostics)
        {
            if (root?.FindNode(diagnostic.Location.SourceSpan) is not MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax receiver }
                || model?.GetSymbolInfo(receiver, context.CancellationToken).Symbol is not ILocalSymbol local)
            {
                continue;
            }
            context.RegisterCodeFix(
                CodeAction.Create($"Save '{local.Name}' where it is assigned",
                    token => Task.FromResult(context.Document.WithSyntaxRoot(AddSave(root, model, local, token))), nameof(AddSaveCodeFix)),
                diagnostic);
        }
    }

    private static SyntaxNode AddSave(SyntaxNode root, SemanticModel model, ILocalSymbol local, CancellationToken token)
    {
        var values = new List<ExpressionSyntax>();
        foreach (var node in root.DescendantNodes())
        {
            switch (node)
            {
                case VariableDeclaratorSyntax { Initializer.Value: var initializer } declarator
                    when SymbolEqualityComparer.Default.Equals(model.GetDeclaredSymbol(declarator, token), local):
                    values.Add(initializer);
                    break;
                case AssignmentExpressionSyntax { Left: IdentifierNameSyntax target } assignment
                    when assignment.IsKind(SyntaxKind.SimpleAssignmentExpression)
                         && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(target, token).Symbol, local):
                    values.Add(assignment.Right);
                    break;
            }
        }
        return root.ReplaceNodes(values, (original, _) => SyntaxFactory.InvocationExpression(
                SyntaxFactory.MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression,
                    original.WithoutTrivia() is BinaryExpressionSyntax or ConditionalExpressionSyntax or CastExpressionSyntax
                        ? SyntaxFactory.ParenthesizedExpression(original.WithoutTrivia())
                        : original.WithoutTrivia(),
                    SyntaxFactory.IdentifierName("Save")))
            .WithTriviaFrom(original));
    }
}
