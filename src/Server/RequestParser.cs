using System.Text.Json;
using NnSight.Intervention;
using NnSight.Models;

namespace NnSight.Server;

/// <summary>A request the server refuses, with the HTTP status and a message for the client.</summary>
internal sealed class RequestRejectedException(int statusCode, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
}

/// <summary>
/// Turns a submitted body into a <see cref="PreparedJob"/>, or refuses it with a 4xx naming what is wrong: JSON, the
/// protocol version (both versions named), the model id, the graph (ops only from the registry, no local code, no
/// forward references, limits, modules that exist, well-typed arguments), the token ids and the generation options.
/// Nothing in a request is ever fetched or executed as code: the graph is data.
/// </summary>
internal sealed class RequestParser(ServerConfig config, IReadOnlyDictionary<string, LanguageModel> models)
{
    private readonly GraphLimits _limits = new(config.Limits.MaxNodes, config.Limits.MaxConstantBytes, config.Limits.MaxNewTokens);

    public async Task<PreparedJob> ParseAsync(Stream body, CancellationToken token)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(body, new JsonDocumentOptions { MaxDepth = 64 }, token);
        }
        catch (JsonException error)
        {
            throw new RequestRejectedException(400, $"The request is not valid JSON: {error.Message}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new RequestRejectedException(400, "The request must be a JSON object.");
            }
            var protocol = Required(root, "protocol", JsonValueKind.Number).TryGetInt32(out var version) ? version : -1;
            if (protocol != RemoteProtocol.Version)
            {
                throw new RequestRejectedException(400,
                    $"The client speaks protocol version {protocol}, but this server speaks version {RemoteProtocol.Version}; update the client or the server.");
            }
            var modelId = Required(root, "model", JsonValueKind.String).GetString()!;
            if (!models.TryGetValue(modelId, out var model))
            {
                throw new RequestRejectedException(404, $"Model \"{modelId}\" is not served here (served: {string.Join(", ", models.Keys)}).");
            }
            var invocations = ReadInvocations(Required(root, "invocations", JsonValueKind.Array), model);
            var generation = ReadGeneration(root);
            InterventionGraph? graph = null;
            try
            {
                graph = GraphSerializer.Deserialize(Required(root, "graph", JsonValueKind.Object).GetRawText());
                GraphValidator.Validate(graph, model, invocations, generation, _limits);
                return new PreparedJob(modelId, model, graph, invocations, generation);
            }
            catch (GraphFormatException error)
            {
                graph?.Dispose();
                throw new RequestRejectedException(400, error.Message);
            }
            catch
            {
                graph?.Dispose();
                throw;
            }
        }
    }

    private static IReadOnlyList<IReadOnlyList<TokenRow>> ReadInvocations(JsonElement element, LanguageModel model)
    {
        IReadOnlyList<IReadOnlyList<TokenRow>> invocations;
        try
        {
            invocations = element.Deserialize<List<List<TokenRow>>>(RemoteProtocol.Json) ?? [];
        }
        catch (JsonException error)
        {
            throw new RequestRejectedException(400, $"invocations must be lists of rows {{\"ids\": [...], \"mask\": [...]}}: {error.Message}");
        }
        if (invocations.Count == 0 || invocations.Any(rows => rows is null || rows.Count == 0 || rows.Any(row => row?.Ids is null)))
        {
            throw new RequestRejectedException(400, "invocations must hold at least one invocation, each with at least one row of ids.");
        }
        foreach (var rows in invocations)
        {
            try
            {
                model.PrepareRows(new InvocationInput.Ids(rows));
                using var batch = TokenBatch.LeftPadded(rows, 0);
            }
            catch (ArgumentException error)
            {
                throw new RequestRejectedException(400, $"invocations: {error.Message}");
            }
        }
        return invocations;
    }

    private GenerationOptions? ReadGeneration(JsonElement root)
    {
        if (!root.TryGetProperty("generation", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        try
        {
            var generation = element.Deserialize<GenerationOptions>(RemoteProtocol.Json)
                ?? throw new RequestRejectedException(400, "generation must be an object.");
            generation.Validate();
            return generation;
        }
        catch (Exception error) when (error is JsonException or ArgumentException)
        {
            throw new RequestRejectedException(400, $"generation: {error.Message}");
        }
    }

    private static JsonElement Required(JsonElement root, string name, JsonValueKind kind) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == kind
            ? value
            : throw new RequestRejectedException(400, $"The request needs \"{name}\" as a JSON {kind.ToString().ToLowerInvariant()}.");
}
