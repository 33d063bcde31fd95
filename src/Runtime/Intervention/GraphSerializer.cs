using System.Globalization;
using System.Text.Json;
using NnSight.Serialization;
using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>
/// The versioned JSON form of an intervention graph: nodes with op names, module accesses and arguments, where
/// arguments are node references or typed constants (tensors as dtype, shape and base64 little-endian data). Reading
/// checks the version, every op against the registry, and that nodes only reference earlier nodes (so a graph cannot
/// contain a cycle). Local code (<c>Apply</c>) cannot be written. See docs/architecture.md#remote-execution.
/// </summary>
public static class GraphSerializer
{
    /// <summary>The value of the <c>format</c> field.</summary>
    public const string FormatName = "nnsight-graph";

    /// <summary>Writes <paramref name="graph"/> as JSON.</summary>
    /// <exception cref="GraphFormatException">The graph runs local code.</exception>
    /// <exception cref="ObjectDisposedException">The graph's tracing context has ended, releasing its tensor constants.</exception>
    public static string Serialize(InterventionGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ObjectDisposedException.ThrowIf(graph.IsDisposed, graph);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("format", FormatName);
            writer.WriteNumber("version", InterventionGraph.FormatVersion);
            if (graph.StopWhenDone)
            {
                writer.WriteBoolean("stop", true);
            }
            writer.WriteStartArray("nodes");
            foreach (var node in graph.Nodes)
            {
                WriteNode(writer, node);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads a graph written by <see cref="Serialize"/>; the caller owns (and disposes) the graph.</summary>
    /// <exception cref="GraphFormatException">The text is not a valid graph of this version; the message names the node.</exception>
    public static InterventionGraph Deserialize(string json)
    {
        var graph = new InterventionGraph();
        var reader = new GraphReader(graph);
        try
        {
            reader.Read(json);
            return graph;
        }
        catch
        {
            reader.DisposeTensors();
            throw;
        }
    }

    private static void WriteNode(Utf8JsonWriter writer, Node node)
    {
        if (node.LocalFunction is not null)
        {
            throw new GraphFormatException(
                $"{(node.Source is null ? "" : $"{node.Source}: ")}node {node.Id} runs local code (Apply), which cannot be serialized or run remotely.");
        }
        if (InterventionGraph.Constants(node.Args).Any(tensor => tensor.requires_grad))
        {
            throw new GraphFormatException(
                $"{(node.Source is null ? "" : $"{node.Source}: ")}node {node.Id} uses a tensor that requires grad (a Parameter): a server " +
                "would compute its gradient on its own copy and never send it back. Train it in a local trace, or pass tensor.detach().");
        }
        writer.WriteStartObject();
        writer.WriteNumber("id", node.Id);
        writer.WriteString("op", node.Op);
        if (node.Access is { } access)
        {
            writer.WriteStartObject("access");
            writer.WriteString("path", access.Path);
            writer.WriteString("kind", access.Kind.ToString().ToLowerInvariant());
            writer.WriteNumber("invocation", access.Invocation);
            writer.WriteNumber("call", access.Call);
            writer.WriteEndObject();
        }
        writer.WriteStartArray("args");
        foreach (var argument in node.Args)
        {
            WriteArgument(writer, argument);
        }
        writer.WriteEndArray();
        if (node.Saved)
        {
            writer.WriteBoolean("saved", true);
        }
        if (node.Optional)
        {
            writer.WriteBoolean("optional", true);
        }
        if (node.Kept)
        {
            writer.WriteBoolean("kept", true);
        }
        if (node.Source is { } source)
        {
            writer.WriteStartObject("source");
            writer.WriteString("file", Path.GetFileName(source.File));
            writer.WriteNumber("line", source.Line);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
    }

    private static void WriteArgument(Utf8JsonWriter writer, object? argument)
    {
        if (argument is null)
        {
            writer.WriteNullValue();
            return;
        }
        if (argument is bool flag)
        {
            writer.WriteBooleanValue(flag);
            return;
        }
        writer.WriteStartObject();
        switch (argument)
        {
            case NodeRef reference:
                writer.WriteNumber("node", reference.Id);
                break;
            case SessionRef imported:
                writer.WriteStartObject("import");
                writer.WriteNumber("trace", imported.Trace);
                writer.WriteNumber("node", imported.Node);
                writer.WriteEndObject();
                break;
            case long number:
                writer.WriteNumber("int", number);
                break;
            case double number when double.IsFinite(number):
                writer.WriteNumber("float", number);
                break;
            case double number:
                writer.WriteString("float", number.ToString(CultureInfo.InvariantCulture));
                break;
            case string text:
                writer.WriteString("str", text);
                break;
            case long[] numbers:
                writer.WriteStartArray("ints");
                Array.ForEach(numbers, writer.WriteNumberValue);
                writer.WriteEndArray();
                break;
            case ScalarType dtype:
                writer.WriteString("dtype", dtype.ToString());
                break;
            case IndexSpec[] indices:
                writer.WriteStartArray("index");
                foreach (var index in indices)
                {
                    WriteIndex(writer, index);
                }
                writer.WriteEndArray();
                break;
            case TokenSelector selector:
                writer.WriteStartObject("token");
                if (selector.Index is { } single)
                {
                    WriteIndexValue(writer, "index", single);
                }
                else
                {
                    WriteIndexValue(writer, "start", selector.Range!.Value.Start);
                    WriteIndexValue(writer, "end", selector.Range!.Value.End);
                }
                writer.WriteEndObject();
                break;
            case Tensor tensor:
                writer.WritePropertyName("tensor");
                WriteTensor(writer, tensor);
                break;
            case IReadOnlyList<object?> list:
                writer.WriteStartArray("list");
                foreach (var item in list)
                {
                    WriteArgument(writer, item);
                }
                writer.WriteEndArray();
                break;
            default:
                throw new GraphFormatException($"A constant of type {argument.GetType().Name} cannot be serialized.");
        }
        writer.WriteEndObject();
    }

    private static void WriteIndex(Utf8JsonWriter writer, IndexSpec index)
    {
        writer.WriteStartObject();
        writer.WriteString("kind", index.Kind.ToString().ToLowerInvariant());
        WriteOptional(writer, "start", index.Start);
        WriteOptional(writer, "stop", index.Stop);
        WriteOptional(writer, "step", index.Step);
        if (index.Values is { } values)
        {
            writer.WritePropertyName("tensor");
            WriteTensor(writer, values);
        }
        writer.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, long? value)
    {
        if (value is { } number)
        {
            writer.WriteNumber(name, number);
        }
    }

    private static void WriteIndexValue(Utf8JsonWriter writer, string name, Index index)
    {
        writer.WriteStartObject(name);
        writer.WriteNumber("value", index.Value);
        writer.WriteBoolean("fromEnd", index.IsFromEnd);
        writer.WriteEndObject();
    }

    private static void WriteTensor(Utf8JsonWriter writer, Tensor tensor)
    {
        // The scope also disposes the handles detach() and cpu() return along the way.
        using var scope = NewDisposeScope();
        var host = tensor.detach().cpu().contiguous();
        writer.WriteStartObject();
        writer.WriteString("dtype", host.dtype.ToString());
        writer.WriteStartArray("shape");
        Array.ForEach(host.shape, writer.WriteNumberValue);
        writer.WriteEndArray();
        writer.WriteBase64String("data", host.numel() == 0 ? [] : host.bytes);
        writer.WriteEndObject();
    }

    /// <summary>
    /// Reads one graph, keeping every tensor constant it creates so that a graph refused halfway leaves none alive. Enum
    /// fields take member names only (<c>Enum.Parse</c> also takes numbers, even ones no member has).
    /// </summary>
    private sealed class GraphReader(InterventionGraph graph)
    {
        private static readonly Dictionary<string, AccessKind> AccessKinds = Names(Enum.GetValues<AccessKind>(), kind => kind.ToString().ToLowerInvariant());
        private static readonly Dictionary<string, IndexKind> IndexKinds = Names(Enum.GetValues<IndexKind>(), kind => kind.ToString().ToLowerInvariant());

        // Element types a result can be written in (safetensors), so every constant and cast can come back.
        private static readonly Dictionary<string, ScalarType> Dtypes = Names(SafetensorsDtypes.ScalarTypes, dtype => dtype.ToString());

        private readonly List<Tensor> _tensors = [];

        public void Read(string json)
        {
            try
            {
                using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format) || format.GetString() != FormatName)
                {
                    throw new GraphFormatException($"This is not an intervention graph (the \"format\" field must be \"{FormatName}\").");
                }
                var version = root.GetProperty("version").GetInt32();
                if (version != InterventionGraph.FormatVersion)
                {
                    throw new GraphFormatException($"The graph is format version {version}; this runtime reads version {InterventionGraph.FormatVersion}.");
                }
                graph.StopWhenDone = root.TryGetProperty("stop", out var stop) && stop.GetBoolean();
                foreach (var element in root.GetProperty("nodes").EnumerateArray())
                {
                    var id = graph.Nodes.Count;
                    try
                    {
                        ReadNode(element, id);
                    }
                    catch (Exception error) when (IsMalformed(error))
                    {
                        throw new GraphFormatException($"Node {id} is malformed: {error.Message}", error);
                    }
                }
            }
            catch (Exception error) when (IsMalformed(error))
            {
                throw new GraphFormatException($"The graph JSON is malformed: {error.Message}", error);
            }
        }

        public void DisposeTensors() => _tensors.ForEach(tensor => tensor.Dispose());

        /// <summary>What <see cref="JsonElement"/> and the parsers throw for a missing field or a value of the wrong kind.</summary>
        private static bool IsMalformed(Exception error) => error is JsonException or KeyNotFoundException or InvalidOperationException
            or FormatException or OverflowException or ArgumentException or InvalidCastException;

        private void ReadNode(JsonElement element, int id)
        {
            var declared = Field(element, "id", id).GetInt32();
            if (declared != id)
            {
                throw new GraphFormatException($"Node ids must count up from 0 in order; found {declared} at position {id}.");
            }
            var op = Field(element, "op", id).GetString()!;
            if (!OpRegistry.Ops.TryGetValue(op, out var definition))
            {
                throw new GraphFormatException($"Node {id}: \"{op}\" is not an op of the registry.");
            }
            if (definition.Kind == OpKind.Local)
            {
                throw new GraphFormatException($"Node {id}: \"{op}\" runs local code and is refused in a serialized graph.");
            }
            ModuleAccess? access = null;
            if (element.TryGetProperty("access", out var accessElement))
            {
                access = new ModuleAccess(
                    Field(accessElement, "path", id).GetString()!,
                    Name(Field(accessElement, "kind", id), AccessKinds, id, "access kind"),
                    NonNegative(Field(accessElement, "invocation", id).GetInt32(), id, "invocation"),
                    NonNegative(Field(accessElement, "call", id).GetInt32(), id, "call"));
            }
            if (access is null && definition.Kind is OpKind.Getter or OpKind.Setter or OpKind.ModuleCall)
            {
                throw new GraphFormatException($"Node {id}: \"{op}\" needs a module access.");
            }
            var args = Field(element, "args", id).EnumerateArray().Select(argument => ReadArgument(argument, id)).ToList();
            SourceLocation? source = element.TryGetProperty("source", out var sourceElement)
                ? new SourceLocation(Field(sourceElement, "file", id).GetString()!, Field(sourceElement, "line", id).GetInt32())
                : null;
            var node = graph.Add(op, args, access, source);
            node.Saved = element.TryGetProperty("saved", out var saved) && saved.GetBoolean();
            node.Optional = element.TryGetProperty("optional", out var optional) && optional.GetBoolean();
            node.Kept = element.TryGetProperty("kept", out var kept) && kept.GetBoolean();
        }

        private object? ReadArgument(JsonElement element, int id)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Null:
                    return null;
                case JsonValueKind.True or JsonValueKind.False:
                    return element.GetBoolean();
                case JsonValueKind.Object:
                    break;
                default:
                    throw new GraphFormatException($"Node {id}: an argument must be null, a boolean or an object, not {element.ValueKind}.");
            }
            var property = element.EnumerateObject().Single();
            var value = property.Value;
            return property.Name switch
            {
                "node" => value.GetInt32() is var reference && reference >= 0 && reference < id
                    ? new NodeRef(reference)
                    : throw new GraphFormatException($"Node {id} references node {value.GetInt32()}; nodes may only reference earlier nodes."),
                "import" => new SessionRef(value.GetProperty("trace").GetInt32(), value.GetProperty("node").GetInt32()),
                "int" => value.GetInt64(),
                "float" => value.ValueKind == JsonValueKind.String ? double.Parse(value.GetString()!, CultureInfo.InvariantCulture) : value.GetDouble(),
                "str" => value.GetString(),
                "ints" => value.EnumerateArray().Select(item => item.GetInt64()).ToArray(),
                "dtype" => Name(value, Dtypes, id, "dtype"),
                "index" => value.EnumerateArray().Select(index => ReadIndex(index, id)).ToArray(),
                "token" => value.TryGetProperty("index", out var single)
                    ? new TokenSelector(ReadIndexValue(single, id), null)
                    : new TokenSelector(null, new Range(ReadIndexValue(Field(value, "start", id), id), ReadIndexValue(Field(value, "end", id), id))),
                "tensor" => ReadTensor(value, id),
                "list" => value.EnumerateArray().Select(item => ReadArgument(item, id)).ToList(),
                _ => throw new GraphFormatException($"Node {id}: unknown argument type \"{property.Name}\"."),
            };
        }

        private IndexSpec ReadIndex(JsonElement element, int id)
        {
            var kind = Name(Field(element, "kind", id), IndexKinds, id, "index kind");
            var hasTensor = element.TryGetProperty("tensor", out var tensor);
            if (hasTensor != (kind == IndexKind.Tensor))
            {
                throw new GraphFormatException(hasTensor
                    ? $"Node {id}: only a tensor index takes a \"tensor\"."
                    : $"Node {id}: a tensor index needs its \"tensor\".");
            }
            return new(kind, Optional(element, "start"), Optional(element, "stop"), Optional(element, "step"), hasTensor ? ReadTensor(tensor, id) : null);
        }

        private static long? Optional(JsonElement element, string name) =>
            element.TryGetProperty(name, out var value) ? value.GetInt64() : null;

        private static Index ReadIndexValue(JsonElement element, int id) =>
            new(NonNegative(Field(element, "value", id).GetInt32(), id, "token position"), Field(element, "fromEnd", id).GetBoolean());

        private Tensor ReadTensor(JsonElement element, int id)
        {
            var dtype = Name(Field(element, "dtype", id), Dtypes, id, "tensor dtype");
            var shape = Field(element, "shape", id).EnumerateArray().Select(size => size.GetInt64()).ToArray();
            var data = Field(element, "data", id).GetBytesFromBase64();
            if (shape.Any(size => size < 0))
            {
                throw new GraphFormatException($"Node {id}: a tensor constant has a negative size in {Shapes.Format(shape)}.");
            }
            long elementSize;
            using (var probe = empty(0, dtype))
            {
                elementSize = probe.ElementSize;
            }
            var expected = checked(shape.Aggregate(1L, (product, size) => product * size) * elementSize);
            if (expected != data.Length)
            {
                throw new GraphFormatException($"Node {id}: a {dtype} tensor constant of shape {Shapes.Format(shape)} needs {expected} bytes; {data.Length} were sent.");
            }
            var tensor = empty(shape, dtype).DetachFromDisposeScope();
            _tensors.Add(tensor);
            if (data.Length > 0)
            {
                data.CopyTo(tensor.bytes);
            }
            return tensor;
        }

        private static JsonElement Field(JsonElement element, string name, int id) =>
            element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
                ? value
                : throw new GraphFormatException($"Node {id}: \"{name}\" is missing.");

        private static int NonNegative(int value, int id, string name) =>
            value >= 0 ? value : throw new GraphFormatException($"Node {id}: {name} must not be negative.");

        private static T Name<T>(JsonElement element, Dictionary<string, T> names, int id, string field) where T : struct, Enum =>
            element.GetString() is { } text && names.TryGetValue(text, out var value)
                ? value
                : throw new GraphFormatException($"Node {id}: {field} \"{element.GetString()}\" is not one of {string.Join(", ", names.Keys)}.");

        private static Dictionary<string, T> Names<T>(IEnumerable<T> values, Func<T, string> name) where T : struct, Enum =>
            values.ToDictionary(name, StringComparer.OrdinalIgnoreCase);
    }
}
