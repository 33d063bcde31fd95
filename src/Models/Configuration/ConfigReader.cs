using System.Text.Json;
using System.Text.Json.Serialization;

namespace NnSight.Models.Configuration;

/// <summary>Reads a HuggingFace <c>config.json</c> into the config record of its <c>model_type</c>.</summary>
internal static class ConfigReader
{
    private static readonly JsonSerializerOptions Options = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        ReadCommentHandling = JsonCommentHandling.Disallow,
    };

    /// <summary>Reads the <c>model_type</c> of the file and deserializes it into that architecture's record.</summary>
    /// <exception cref="ConfigException">The file is missing, not JSON, lacks <c>model_type</c>, names an unsupported
    /// architecture, or has a value of the wrong type or out of range.</exception>
    public static PretrainedConfig Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new ConfigException($"{path} does not exist; a model folder needs the config.json HuggingFace saved with it.");
        }
        var text = File.ReadAllText(path);
        var modelType = ReadModelType(path, text);
        var architecture = ModelArchitectures.Find(modelType)
            ?? throw new ConfigException(
                $"{path}: model_type = \"{modelType}\" is not supported (supported: {string.Join(", ", ModelArchitectures.SupportedModelTypes)}).",
                "model_type", $"\"{modelType}\"");
        PretrainedConfig config;
        try
        {
            config = (PretrainedConfig)(JsonSerializer.Deserialize(text, architecture.ConfigType, Options)
                ?? throw new ConfigException($"{path} holds null, not a config object."));
        }
        catch (JsonException error)
        {
            var key = error.Path?.TrimStart('$', '.') ?? "";
            throw new ConfigException(
                $"{path}: the value of {key} cannot be read (line {error.LineNumber + 1}): {error.Message}", key, null, error);
        }
        try
        {
            config.Validate();
        }
        catch (ConfigException error)
        {
            throw new ConfigException($"{path}: {error.Message}", error.Key, error.Value, error);
        }
        return config;
    }

    private static string ReadModelType(string path, string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigException($"{path} holds a JSON {document.RootElement.ValueKind}, not an object.");
            }
            return document.RootElement.TryGetProperty("model_type", out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString()!
                : throw new ConfigException($"{path} has no model_type string; HuggingFace writes it in every config.json.", "model_type");
        }
        catch (JsonException error)
        {
            throw new ConfigException(
                $"{path} is not valid JSON (line {error.LineNumber + 1}, column {error.BytePositionInLine + 1}): {error.Message}",
                innerException: error);
        }
    }
}
