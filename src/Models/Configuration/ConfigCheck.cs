using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NnSight.Models.Configuration;

/// <summary>
/// The check generated model classes run before loading: the folder's architecture is implemented, and its
/// config.json (with HuggingFace's defaults for absent keys) matches the compile-time config in every structural key.
/// </summary>
public static class ConfigCheck
{
    /// <summary>Throws unless <paramref name="folder"/> can be loaded as <paramref name="className"/>.</summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="className">The generated class, for messages.</param>
    /// <param name="modelType">The compile-time <c>model_type</c>.</param>
    /// <param name="compileTimePath">The compile-time config.json, for messages.</param>
    /// <param name="expected">The structural keys and their compile-time values.</param>
    /// <exception cref="ConfigException">NnSight.Models does not implement the architecture yet, or config.json cannot be read.</exception>
    /// <exception cref="ConfigMismatchException">The folder holds another architecture, or a structural key differs.</exception>
    public static void Require(string folder, string className, string modelType, string compileTimePath,
        IReadOnlyList<(string Key, long Value)> expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        if (ModelArchitectures.Find(modelType) is null)
        {
            throw new ConfigException(
                $"{className} is typed from a {modelType} config, but NnSight.Models does not implement the {modelType} architecture yet " +
                $"(implemented: {string.Join(", ", ModelArchitectures.SupportedModelTypes)}); the typed tree compiles but cannot be loaded.",
                "model_type", modelType);
        }
        var path = Path.Combine(folder, "config.json");
        var config = ConfigReader.Read(path);
        if (config.ModelType != modelType)
        {
            throw new ConfigMismatchException(
                $"{path}: model_type is {config.ModelType}, but {className} was generated from {compileTimePath} with model_type {modelType}; " +
                $"load a {modelType} folder, or declare a class from this folder's config.json.",
                "model_type", modelType, config.ModelType);
        }
        foreach (var (key, value) in expected)
        {
            var actual = ValueOf(config, key);
            if (actual != value)
            {
                var (expectedText, actualText) = (Text(value), actual is { } found ? Text(found) : null);
                throw new ConfigMismatchException(
                    $"{path}: {key} is {actualText ?? "absent"}, but {className} was generated from " +
                    $"{compileTimePath} with {key} = {expectedText}; load a folder of the same architecture size or regenerate the class from this config.",
                    key, expectedText, actualText);
            }
        }
    }

    private static string Text(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The integer value of config key <paramref name="key"/> (HuggingFace's default when absent), or null.</summary>
    public static long? ValueOf(PretrainedConfig config, string key)
    {
        ArgumentNullException.ThrowIfNull(config);
        foreach (var property in config.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name == key)
            {
                return property.GetValue(config) switch
                {
                    int number => number,
                    long number => number,
                    IReadOnlyList<int> { Count: 1 } list => list[0],
                    _ => null,
                };
            }
        }
        return config.OtherKeys is { } others && others.TryGetValue(key, out var element)
            && element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var other) ? other : null;
    }
}
