namespace NnSight;

/// <summary>
/// A model folder's configuration (its folder, <c>config.json</c>, <c>generation_config.json</c>, tokenizer files) is
/// missing, malformed, or holds a value the implementation cannot honour. The message names the file, the key and the
/// value.
/// </summary>
public sealed class ConfigException : NnSightException
{
    /// <summary>Creates the exception for <paramref name="key"/> with the offending <paramref name="value"/>.</summary>
    public ConfigException(string message, string? key = null, string? value = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Key = key;
        Value = value;
    }

    /// <summary>The config key at fault, when one is.</summary>
    public string? Key { get; }

    /// <summary>The value found for <see cref="Key"/>, as written in the file.</summary>
    public string? Value { get; }

    /// <summary>The error for a value the implementation does not support, listing what it supports.</summary>
    public static ConfigException Unsupported(string architecture, string key, object? value, string supported) =>
        new($"config.json: {key} = {Describe(value)} is not supported by the {architecture} implementation ({supported}).",
            key, Describe(value));

    internal static string Describe(object? value) => value switch
    {
        null => "null",
        string text => $"\"{text}\"",
        bool flag => flag ? "true" : "false",
        IFormattable number => number.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
