using System.Text.Json;
using static TorchSharp.torch;

namespace NnSight.Serialization;

/// <summary>
/// Writes tensors to a <c>.safetensors</c> file atomically: the file is written under a temporary name in the same
/// folder (<c>.{file name}.{32 hex digits}.tmp</c>) and renamed into place, so a reader never sees a partial file.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> (any device; copied to the CPU) in the given order to <paramref name="path"/>.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        AtomicFile.Write(path, stream => WriteTo(stream, tensors, metadata));

    /// <summary>Writes the safetensors bytes of <paramref name="tensors"/> to <paramref name="stream"/>.</summary>
    internal static void WriteTo(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.ToList();
        var header = BuildHeader(items, metadata);
        var padding = (8 - header.Length % 8) % 8;
        stream.Write(BitConverter.GetBytes((ulong)(header.Length + padding)));
        stream.Write(header);
        for (var i = 0; i < padding; i++)
        {
            stream.WriteByte((byte)' ');
        }
        foreach (var (_, tensor) in items)
        {
            // The scope also disposes the handles detach() and cpu() return along the way.
            using var scope = NewDisposeScope();
            TensorMemory.ForEachChunk(tensor.detach().cpu().contiguous(), (chunk, _) => stream.Write(chunk));
        }
    }

    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> items, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                writer.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata)
                {
                    writer.WriteString(key, value);
                }
                writer.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in items)
            {
                var dtype = SafetensorsDtypes.FromScalarType(tensor.dtype);
                var end = offset + tensor.numel() * tensor.ElementSize;
                writer.WriteStartObject(name);
                writer.WriteString("dtype", dtype);
                writer.WriteStartArray("shape");
                foreach (var size in tensor.shape)
                {
                    writer.WriteNumberValue(size);
                }
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(end);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset = end;
            }
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
