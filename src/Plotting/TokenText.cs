namespace NnSight.Plotting;

/// <summary>How token strings are written on a figure.</summary>
internal static class TokenText
{
    /// <summary>
    /// <paramref name="token"/> with line breaks and tabs written as <c>\n</c> and <c>\t</c>, so each token stays on one
    /// line, as circuitsvis shows them; leading spaces are kept (GPT-2's tokens begin with them).
    /// </summary>
    public static string Display(string token) =>
        token.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);
}
