using System;
using System.Collections.Generic;
using System.Linq;

namespace NnSight.Generators.Templates;

/// <summary>
/// One named element of a module's tuple output: its documentation and its shape in the symbolic form of
/// <c>[Shape]</c> (<c>[batch, seq, {n_embd}]</c>, a tuple <c>(..., ...)</c>, <c>{n_layer} × (...)</c>), both with
/// <c>{key}</c> placeholders for config values.
/// </summary>
internal sealed record TupleElement(int Index, string Alias, string Description, string Shape)
{
    /// <summary>Whether the element is itself a tuple (a layer's (key, value), the cache).</summary>
    public bool IsTuple => Shape.StartsWith("(", StringComparison.Ordinal) || Shape.Contains("×");
}

/// <summary>
/// A module of an architecture's tree, in forward (execution) order. <see cref="Output"/> documents a tensor output
/// with <c>{key}</c> placeholders for config values; <see cref="Tuple"/> describes a tuple output instead. A list
/// module has <see cref="CountKey"/> (its length's config value) and one <see cref="Element"/> template. The symbolic
/// shapes (<see cref="Shape"/>, <see cref="Input"/>, <see cref="Elementwise"/>) become the member's <c>[Shape]</c>.
/// </summary>
internal sealed class ModuleTemplate
{
    public ModuleTemplate(string name, string kind, string? output = null, TupleElement[]? tuple = null,
        ModuleTemplate[]? children = null, string? countKey = null, ModuleTemplate? element = null,
        string? input = null, string? shape = null, bool elementwise = false)
    {
        Name = name;
        Kind = kind;
        Output = output;
        Tuple = tuple ?? Array.Empty<TupleElement>();
        Children = children ?? Array.Empty<ModuleTemplate>();
        CountKey = countKey;
        Element = element;
        Input = input;
        Elementwise = elementwise;
        Shape = shape
            ?? (output is not null && output.StartsWith("[", StringComparison.Ordinal) ? output : null)
            ?? (Tuple.Count > 0 ? "(" + string.Join(", ", Tuple.Select(item => item.Shape)) + ")" : null);
    }

    public string Name { get; }

    public string Kind { get; }

    /// <summary>The output's documentation (a shape, or words and a shape).</summary>
    public string? Output { get; }

    public IReadOnlyList<TupleElement> Tuple { get; }

    public IReadOnlyList<ModuleTemplate> Children { get; }

    public string? CountKey { get; }

    public ModuleTemplate? Element { get; }

    /// <summary>The output's symbolic shape: given, or the documented output when it is a bare shape, or the tuple's.</summary>
    public string? Shape { get; }

    /// <summary>The symbolic shape of the first positional argument, where the module's output depends on it.</summary>
    public string? Input { get; }

    /// <summary>Whether the module works element by element on any shape (dropouts, activations).</summary>
    public bool Elementwise { get; }
}

/// <summary>
/// An architecture as data: which config keys it needs, which ones a loaded folder must match, the values derived
/// from them, and its module tree.
/// </summary>
internal sealed class ArchitectureTemplate
{
    public ArchitectureTemplate(string modelType, string name, string? configType, string[] requiredKeys, string[] structuralKeys,
        Action<ConfigValues> derive, TupleElement[] rootOutput, ModuleTemplate[] children)
    {
        ModelType = modelType;
        Name = name;
        ConfigType = configType;
        RequiredKeys = requiredKeys;
        StructuralKeys = structuralKeys;
        Derive = derive;
        RootOutput = rootOutput;
        Children = children;
    }

    /// <summary>The <c>model_type</c> this template serves.</summary>
    public string ModelType { get; }

    /// <summary>The architecture's name for documentation (<c>GPT-2</c>).</summary>
    public string Name { get; }

    /// <summary>
    /// The config record NnSight.Models reads this architecture's config.json into (<c>NnSight.Models.Gpt2.GPT2Config</c>),
    /// or null while NnSight.Models does not implement the architecture.
    /// </summary>
    public string? ConfigType { get; }

    /// <summary>Keys without which the tree cannot be built (NNS0004 when missing).</summary>
    public IReadOnlyList<string> RequiredKeys { get; }

    /// <summary>Keys a loaded folder's config.json must match (when the compile-time config states them).</summary>
    public IReadOnlyList<string> StructuralKeys { get; }

    /// <summary>Adds the values the tree's shapes use that the config does not state directly.</summary>
    public Action<ConfigValues> Derive { get; }

    /// <summary>The root model's tuple output.</summary>
    public IReadOnlyList<TupleElement> RootOutput { get; }

    /// <summary>The root's children in forward order.</summary>
    public IReadOnlyList<ModuleTemplate> Children { get; }
}

/// <summary>Config values by key (numbers and strings as text), with the derived values a template adds.</summary>
internal sealed class ConfigValues
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public string? this[string key]
    {
        get => _values.TryGetValue(key, out var value) ? value : null;
        set
        {
            if (value is null)
            {
                _values.Remove(key);
            }
            else
            {
                _values[key] = value;
            }
        }
    }

    /// <summary>The integer value of <paramref name="key"/>, or null.</summary>
    public long? Long(string key) =>
        _values.TryGetValue(key, out var text) && long.TryParse(text, System.Globalization.NumberStyles.Integer,
            System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/> unless the config states it.</summary>
    public void Default(string key, object value)
    {
        if (!_values.ContainsKey(key))
        {
            _values[key] = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!;
        }
    }

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/>.</summary>
    public void Set(string key, long value) => _values[key] = value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary><paramref name="text"/> with every <c>{key}</c> replaced by its value.</summary>
    public string Expand(string text)
    {
        foreach (var pair in _values)
        {
            text = text.Replace("{" + pair.Key + "}", pair.Value);
        }
        return text;
    }
}
