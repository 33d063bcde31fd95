using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NnSight.Generators.Analyzers;

/// <summary><c>for</c> loops that count a variable up by one to a constant bound, whose values the analyzers can know.</summary>
internal static class CountingLoops
{
    /// <summary>
    /// The last value of <paramref name="counter"/> in <c>for (...; i &lt; n; i++)</c> (or <c>&lt;=</c>, <c>++i</c>,
    /// <c>i += 1</c>) with a constant n; null for other loops.
    /// </summary>
    public static int? LastValue(ForStatementSyntax loop, string counter, SemanticModel model)
    {
        if (loop.Condition is not BinaryExpressionSyntax { Left: IdentifierNameSyntax left } condition
            || left.Identifier.ValueText != counter
            || model.GetConstantValue(condition.Right).Value is not int bound
            || loop.Incrementors.Count != 1 || !StepsByOne(loop.Incrementors[0], counter, model))
        {
            return null;
        }
        return condition.Kind() switch
        {
            SyntaxKind.LessThanExpression => bound - 1,
            SyntaxKind.LessThanOrEqualExpression => bound,
            _ => null,
        };
    }

    private static bool StepsByOne(ExpressionSyntax incrementor, string counter, SemanticModel model) => incrementor switch
    {
        PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PostIncrementExpression, Operand: IdentifierNameSyntax operand } =>
            operand.Identifier.ValueText == counter,
        PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PreIncrementExpression, Operand: IdentifierNameSyntax operand } =>
            operand.Identifier.ValueText == counter,
        AssignmentExpressionSyntax { RawKind: (int)SyntaxKind.AddAssignmentExpression, Left: IdentifierNameSyntax operand } add =>
            operand.Identifier.ValueText == counter && model.GetConstantValue(add.Right).Value is 1,
        _ => false,
    };
}
