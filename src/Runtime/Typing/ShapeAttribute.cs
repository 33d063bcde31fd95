namespace NnSight;

/// <summary>
/// Marks a generated member with the shape of its value in config terms, as its XML docs write it, for analyzers: a
/// module member's output (each element's, for a module list) and first input, the whole tuple of a typed
/// <c>Output</c> property, or one element of a typed tuple output. Tensors read <c>[batch, seq, 768]</c>, tuples
/// <c>([batch, seq, 768], ...)</c>, and <c>12 × (...)</c> is a tuple of 12 equal elements; <c>batch</c>, <c>seq</c> and
/// <c>past+seq</c> are the rows, new positions and all positions of a forward pass, and numbers come from the config.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = false)]
public sealed class ShapeAttribute(string shape) : Attribute
{
    /// <summary>The value's shape: a module's output, a typed output's tuple, or a tuple element.</summary>
    public string Shape { get; } = shape;

    /// <summary>A module's first positional argument (its <c>Input</c>, and what <c>Call(x)</c> is checked against), when known.</summary>
    public string? Input { get; set; }

    /// <summary>
    /// Whether the module works element by element (a dropout, an activation): it takes any shape, and <c>Call(x)</c>
    /// has the shape of <c>x</c>.
    /// </summary>
    public bool Elementwise { get; set; }
}
