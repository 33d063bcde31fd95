namespace NnSight;

/// <summary>
/// A model folder's config.json differs from the one a typed model class was generated from, in its architecture
/// (<c>model_type</c>) or a key that shapes the module tree (layers, widths, heads, vocabulary). The message names the
/// key and both values.
/// </summary>
public sealed class ConfigMismatchException : NnSightException
{
    /// <summary>Creates the exception for <paramref name="key"/>.</summary>
    public ConfigMismatchException(string message, string key, string expected, string? actual) : base(message)
    {
        Key = key;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The config key that differs.</summary>
    public string Key { get; }

    /// <summary>The value the class was generated with, as config.json writes it.</summary>
    public string Expected { get; }

    /// <summary>The folder's value (null when the key is absent and has no default).</summary>
    public string? Actual { get; }
}
