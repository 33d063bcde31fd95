using System.Linq;
using System.Text;

namespace NnSight.Generators;

/// <summary>HuggingFace's snake_case module names to C# PascalCase, deterministically.</summary>
internal static class Naming
{
    /// <summary><c>c_attn</c> → <c>CAttn</c>, <c>ln_f</c> → <c>LnF</c>, <c>ln_1</c> → <c>Ln1</c>, <c>h</c> → <c>H</c>.</summary>
    public static string ToPascalCase(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var part in name.Split(new[] { '_', '.', '-' }, System.StringSplitOptions.RemoveEmptyEntries))
        {
            builder.Append(char.ToUpperInvariant(part[0]));
            builder.Append(part, 1, part.Length - 1);
        }
        var result = builder.ToString();
        return result.Length > 0 && char.IsDigit(result[0]) ? "_" + result : result;
    }

    /// <summary>A type name from a dotted path of names: <c>transformer.h.attn</c> → <c>TransformerHAttn</c>.</summary>
    public static string ToTypeName(string path) => string.Concat(path.Split('.').Select(ToPascalCase));
}
