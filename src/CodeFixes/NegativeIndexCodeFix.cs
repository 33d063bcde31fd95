using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NnSight.CodeFixes;

/// <summary>NNS0101 on a Python-style negative index: <c>H[-1]</c> becomes <c>H[^1]</c>.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(NegativeIndexCodeFix)), Shared]
public sealed class NegativeIndexCodeFix : CodeFixProvider
{
    private const string FromEndProperty = "FromEnd";

    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ["NNS0101"];

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(FromEndProperty, out var fromEnd) || fromEnd is null
                || root?.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true) is not { } node)
            {
                continue;
            }
            var index = node.AncestorsAndSelf().OfType<ExpressionSyntax>().First();
            var replacement = SyntaxFactory.PrefixUnaryExpression(SyntaxKind.IndexExpression,
                    SyntaxFactory.LiteralExpression(SyntaxKind.NumericLiteralExpression, SyntaxFactory.Literal(int.Parse(fromEnd, System.Globalization.CultureInfo.InvariantCulture))))
                .WithTriviaFrom(index);
            context.RegisterCodeFix(
                CodeAction.Create($"Use ^{fromEnd}", _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNode(index, replacement))), nameof(NegativeIndexCodeFix)),
                diagnostic);
        }
    }
}
