using System.Text.Json;

namespace NnSight.Models.Tokenization;

/// <summary>
/// Reading the parts of a <c>tokenizer.json</c>: each part is an object with a <c>type</c>, a <c>Sequence</c> holds
/// its steps in a list, and every error names the file and the field (<c>normalizer.normalizers[1].content</c>).
/// </summary>
internal static class TokenizerJsonParts
{
    /// <summary>The <c>type</c> of a part, or null when it has none (or is not an object).</summary>
    public static string? Type(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()
            : null;

    /// <summary>Whether a part is absent or null (<c>"pre_tokenizer": null</c>).</summary>
    public static bool IsAbsent(JsonElement element) => element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null;

    /// <summary>The property <paramref name="name"/> of <paramref name="root"/>, or an undefined element.</summary>
    public static JsonElement Property(JsonElement root, string name) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var value) ? value : default;

    /// <summary>The steps of a <c>Sequence</c> (in <paramref name="listName"/>; none when it has no list) with their
    /// field paths, or the part itself.</summary>
    public static IEnumerable<(JsonElement Step, string Field)> Steps(JsonElement element, string field, string listName)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            yield break;
        }
        if (Type(element) != "Sequence")
        {
            yield return (element, field);
            yield break;
        }
        if (element.TryGetProperty(listName, out var steps) && steps.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var step in steps.EnumerateArray())
            {
                yield return (step, $"{field}.{listName}[{index++}]");
            }
        }
    }

    /// <summary>The steps of a <c>Sequence</c> (in <paramref name="listName"/>), or the part itself.</summary>
    public static IEnumerable<JsonElement> Steps(JsonElement element, string listName) => Steps(element, "", listName).Select(step => step.Step);

    /// <summary>A required string property.</summary>
    public static string String(string path, JsonElement element, string field, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw Malformed(path, $"{field}.{name}", "a string");

    /// <summary>An optional string property (absent or null gives null).</summary>
    public static string? OptionalString(string path, JsonElement element, string field, string name) =>
        !element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : throw Malformed(path, $"{field}.{name}", "a string or null");

    /// <summary>An optional boolean property (absent or null gives <paramref name="fallback"/>).</summary>
    public static bool Boolean(string path, JsonElement element, string field, string name, bool fallback) =>
        !element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? fallback
        : value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean()
        : throw Malformed(path, $"{field}.{name}", "true or false");

    /// <summary>A required non-negative integer property.</summary>
    public static int Count(string path, JsonElement element, string field, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && number >= 0
            ? number
            : throw Malformed(path, $"{field}.{name}", "a non-negative integer");

    /// <summary>A required property holding exactly one character (a Rust <c>char</c>: one scalar value).</summary>
    public static string Character(string path, JsonElement element, string field, string name)
    {
        var text = String(path, element, field, name);
        return text.Length == 1 && !char.IsSurrogate(text[0]) || text.Length == 2 && char.IsSurrogatePair(text[0], text[1])
            ? text
            : throw Malformed(path, $"{field}.{name}", "one character");
    }

    /// <summary>The error for a field that is missing or of the wrong kind.</summary>
    public static ConfigException Malformed(string path, string field, string expected) =>
        new($"{path}: {field} must be {expected}.", field);

    /// <summary>The error for a part of a kind that cannot be read.</summary>
    public static ConfigException Unsupported(string path, string field, string? type, IEnumerable<string> supported) =>
        new($"{path}: {field}.type {ConfigException.Describe(type)} is not supported (supported: {string.Join(", ", supported)}).",
            $"{field}.type", type);
}
