using System.Text.Json;
using NnSight.Intervention;
using NnSight.Models;

namespace NnSight.Server;

/// <summary>A request the server refuses, with the HTTP status and a message for the client.</summary>
internal sealed class RequestRejectedException(int statusCode, string message) : NnSightException(message)
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

    /// <summary>Parses and validates a request already read into memory (a journaled or queued one).</summary>
    /// <exception cref="RequestRejectedException">The request is not valid here (any more).</exception>
    public PreparedJob Parse(byte[] body)
    {
        using var stream = new MemoryStream(body, writable: false);
        return ParseAsync(stream, CancellationToken.None).GetAwaiter().GetResult();
    }

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
            var traceElements = Required(root, "traces", JsonValueKind.Array).EnumerateArray().ToList();
            if (traceElements.Count == 0 || traceElements.Any(element => element.ValueKind != JsonValueKind.Object))
            {
                throw new RequestRejectedException(400, "traces must hold at least one trace object {\"invocations\", \"generation\", \"graph\"}.");
            }
            var traces = new List<SessionTrace>();
            try
            {
                foreach (var element in traceElements)
                {
                    traces.Add(ReadTrace(element, traces, model, traceElements.Count));
                }
                var nodes = traces.Sum(trace => trace.Graph.Nodes.Count);
                if (nodes > _limits.MaxNodes)
                {
                    throw new GraphFormatException($"The session's graphs have {nodes} nodes together; this server accepts at most {_limits.MaxNodes}.");
                }
                return new PreparedJob(modelId, model, traces);
            }
            catch (GraphFormatException error)
            {
                traces.ForEach(trace => trace.Graph.Dispose());
                throw new RequestRejectedException(400, error.Message);
            }
            catch
            {
                traces.ForEach(trace => trace.Graph.Dispose());
                throw;
            }
        }
    }

    /// <summary>
    /// The next trace of the request, after <paramref name="earlier"/>: its kept-value references and their shapes are
    /// checked against those traces. Errors name the trace when the request has several.
    /// </summary>
    private SessionTrace ReadTrace(JsonElement element, IReadOnlyList<SessionTrace> earlier, LanguageModel model, int count)
    {
        try
        {
            var invocations = ReadInvocations(Required(element, "invocations", JsonValueKind.Array), model);
            var generation = ReadGeneration(element);
            var graph = GraphSerializer.Deserialize(Required(element, "graph", JsonValueKind.Object).GetRawText());
            try
            {
                SessionRunner.ValidateImports(graph, earlier);
                GraphValidator.Validate(graph, model, invocations, generation, _limits, ImportedShapes(earlier, model));
            }
            catch
            {
                graph.Dispose();
                throw;
            }
            return new SessionTrace(graph, invocations, generation);
        }
        catch (RequestRejectedException error) when (count > 1)
        {
            throw new RequestRejectedException(error.StatusCode, $"trace {earlier.Count}: {error.Message}");
        }
        catch (GraphFormatException error) when (count > 1)
        {
            throw new GraphFormatException($"trace {earlier.Count}: {error.Message}", error);
        }
    }

    /// <summary>The shapes of the values <paramref name="traces"/> keep, inferred as each trace's own validation does.</summary>
    private static Func<SessionRef, ValueShape> ImportedShapes(IReadOnlyList<SessionTrace> traces, LanguageModel model)
    {
        var inferences = new Dictionary<int, ShapeInference>();
        ValueShape Of(SessionRef reference)
        {
            var trace = traces[reference.Trace];
            if (!inferences.TryGetValue(reference.Trace, out var shapes))
            {
                shapes = inferences[reference.Trace] = new ShapeInference(trace.Graph, model, new FixedInvocationSizes(trace.Invocations, trace.Generation), Of);
            }
            return shapes.Of(trace.Graph.Nodes[reference.Node]);
        }
        return Of;
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
