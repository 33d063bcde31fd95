namespace NnSight;

/// <summary>
/// Asks the NnSight generator for a typed model class: <c>[LanguageModel("models/gpt2/config.json")] public partial
/// class Gpt2;</c>. The path names an <c>AdditionalFiles</c> item of the project (relative to the project, either
/// separator); the generated class derives from <c>NnSight.Models.LanguageModel</c> and adds the typed module tree.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class LanguageModelAttribute(string configPath) : Attribute
{
    /// <summary>The config.json the class is generated from.</summary>
    public string ConfigPath { get; } = configPath;
}

/// <summary>
/// Marks a generated envoy member with its module path and the position of its output in the forward pass (its
/// forward order), for analyzers. Inside a module-list element both are relative to the element.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = false)]
public sealed class ModuleAttribute(string path, int order) : Attribute
{
    /// <summary>The module's HuggingFace path (relative to the list element when <see cref="Relative"/>).</summary>
    public string Path { get; } = path;

    /// <summary>The output's position in forward order (modules' outputs counted as they are produced).</summary>
    public int Order { get; } = order;

    /// <summary>Whether <see cref="Path"/> and <see cref="Order"/> are relative to an enclosing list element.</summary>
    public bool Relative { get; set; }
}

/// <summary>
/// Marks a generated module-list member with its path, its length from the config, and the forward order of its
/// elements: element <c>i</c>'s outputs occupy orders <c>FirstOrder + i·Stride</c> to <c>FirstOrder + (i+1)·Stride − 1</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = false)]
public sealed class ModuleListAttribute(string path, int length, int firstOrder, int stride) : Attribute
{
    /// <summary>The list's HuggingFace path.</summary>
    public string Path { get; } = path;

    /// <summary>The number of modules (<c>n_layer</c>, <c>num_hidden_layers</c>, ...).</summary>
    public int Length { get; } = length;

    /// <summary>The forward order of the first element's first output.</summary>
    public int FirstOrder { get; } = firstOrder;

    /// <summary>How many outputs one element produces.</summary>
    public int Stride { get; } = stride;

    /// <summary>Whether the path and orders are relative to an enclosing list element.</summary>
    public bool Relative { get; set; }
}
