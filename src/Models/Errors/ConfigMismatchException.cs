namespace NnSight;

/// <summary>
/// A model folder's config.json differs from the one a typed model class was generated from, in a key that shapes
/// the module tree (layers, widths, heads, vocabulary). The message names the key and both values.
/// </summary>
public sealed class ConfigMismatchException : Exception
{
    /// <summary>Creates the exception for <paramref name="key"/>.</summary>
    public ConfigMismatchException(string message, string key, long expected, long? actual) : base(message)
    {
        Key = key;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The config key that differs.</summary>
    public string Key { get; }

    /// <summary>The value the class was generated with.</summary>
    public long Expected { get; }

    /// <summary>The folder's value (null when the key is absent and has no default).</summary>
    public long? Actual { get; }
}
