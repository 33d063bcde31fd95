using System.Collections;
using System.Reflection;
using Xunit;
using static TorchSharp.torch;

namespace NnSight.TestSupport;

/// <summary>Asserts that a failed or finished run left no TorchSharp hook on any module.</summary>
public static class HookAssert
{
    /// <summary>Every module of <paramref name="root"/>, the root included, has empty forward pre- and post-hook lists.</summary>
    public static void NoHooks(nn.Module root)
    {
        ArgumentNullException.ThrowIfNull(root);
        foreach (var (_, module) in root.named_modules().Append(("", root)))
        {
            foreach (var name in new[] { "pre_hooks", "post_hooks" })
            {
                if (FindField(module.GetType(), name) is { } field)
                {
                    Assert.Empty((IEnumerable)field.GetValue(module)!);
                }
            }
        }
    }

    private static FieldInfo? FindField(Type type, string name)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.GetField(name, BindingFlags.Instance | BindingFlags.NonPublic) is { } field)
            {
                return field;
            }
        }
        return null;
    }
}
