using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight;

/// <summary>
/// Prints a TorchSharp module tree the way PyTorch's <c>print(model)</c> does: one <c>(name): Type(details)</c> line
/// per module, children indented, and runs of identical modules in a list folded to <c>(0-11): 12 x GPT2Block(</c>.
/// </summary>
internal static class ModuleTreePrinter
{
    /// <summary>The printed tree of <paramref name="module"/>.</summary>
    public static string Format(nn.Module module) => Represent(module);

    private static string Represent(nn.Module module)
    {
        var children = module.named_children().ToList();
        var extra = ExtraRepresentation(module);
        var name = TypeName(module);
        if (children.Count == 0)
        {
            return $"{name}({extra})";
        }
        var lines = new List<string>();
        if (extra.Length > 0)
        {
            lines.Add(extra);
        }
        lines.AddRange(IsList(module) ? FoldedChildren(children) : children.Select(child => $"({child.name}): {Represent(child.module)}"));
        var body = string.Join("\n", lines.Select(line => "  " + Indent(line)));
        return $"{name}(\n{body}\n)";
    }

    private static IEnumerable<string> FoldedChildren(List<(string name, nn.Module module)> children)
    {
        var representations = children.Select(child => (child.name, text: Represent(child.module))).ToList();
        for (var start = 0; start < representations.Count;)
        {
            var end = start;
            while (end + 1 < representations.Count && representations[end + 1].text == representations[start].text)
            {
                end++;
            }
            var count = end - start + 1;
            yield return count == 1
                ? $"({representations[start].name}): {representations[start].text}"
                : $"({representations[start].name}-{representations[end].name}): {count} x {representations[start].text}";
            start = end + 1;
        }
    }

    private static string Indent(string text) => text.Replace("\n", "\n  ", StringComparison.Ordinal);

    private static bool IsList(nn.Module module) =>
        module.GetType().IsGenericType && module.GetType().GetGenericTypeDefinition() == typeof(ModuleList<>);

    /// <summary>The module's class name without generic arity (<c>ModuleList</c>).</summary>
    /// <summary>The module's class name as PyTorch prints it: the plain name a managed module gave its base
    /// constructor (one implementation can stand for several HuggingFace classes), else its CLR type name without
    /// generic arity (native modules name themselves <c>torch::nn::…Impl</c>).</summary>
    internal static string TypeName(nn.Module module)
    {
        var given = module.GetName();
        if (!string.IsNullOrEmpty(given) && given.All(character => char.IsAsciiLetterOrDigit(character) || character == '_'))
        {
            return given;
        }
        var name = module.GetType().Name;
        var arity = name.IndexOf('`', StringComparison.Ordinal);
        return arity < 0 ? name : name[..arity];
    }

    private static string ExtraRepresentation(nn.Module module) => module switch
    {
        Linear linear => $"in_features={linear.in_features}, out_features={linear.out_features}, bias={PythonBool(linear.bias is not null)}",
        Embedding embedding => $"{embedding.weight!.shape[0]}, {embedding.weight.shape[1]}",
        LayerNorm norm => $"({string.Join(", ", norm.normalized_shape)},), eps={PythonFloat(norm.eps)}, elementwise_affine={PythonBool(norm.elementwise_affine)}",
        Dropout dropout => $"p={PythonFloat(dropout.p)}, inplace={PythonBool(dropout.inplace)}",
        _ => "",
    };

    private static string PythonBool(bool value) => value ? "True" : "False";

    private static string PythonFloat(double value)
    {
        var text = value.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal);
        return text.Contains('.', StringComparison.Ordinal) || text.Contains('e', StringComparison.Ordinal) ? text : text + ".0";
    }
}
