using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace NnSight.Serialization;

/// <summary>One tensor's entry in a safetensors header; offsets are relative to the start of the data section.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="Dtype">The safetensors dtype name (<c>F32</c>, <c>BF16</c>, ...).</param>
/// <param name="Shape">The tensor's shape.</param>
/// <param name="Begin">The first byte of the tensor's data.</param>
/// <param name="End">One past the last byte of the tensor's data.</param>
public sealed record SafetensorsEntry(string Name, string Dtype, long[] Shape, long Begin, long End)
{
    /// <summary>The TorchSharp element type of <see cref="Dtype"/>.</summary>
    public ScalarType ScalarType => SafetensorsDtypes.ToScalarType(Dtype);

    /// <summary>The shape written as <c>[a, b]</c>, for messages.</summary>
    public string ShapeText => Shapes.Format(Shape);
}

/// <summary>
/// A validated, open <c>.safetensors</c> file. The whole header is checked when the file is opened — header length,
/// JSON, dtypes, shapes, offsets inside the data, no overlaps — so a malformed file fails before any tensor is read.
/// Tensors are read on demand straight into tensor memory.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    /// <summary>The largest header accepted (the reference implementation's limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    private readonly SafeFileHandle _handle;
    private readonly long _dataStart;
    private readonly Dictionary<ScalarType, Tensor> _mappings = [];

    private SafetensorsFile(string path, SafeFileHandle handle, long dataStart,
        IReadOnlyDictionary<string, SafetensorsEntry> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        FilePath = path;
        _handle = handle;
        _dataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file's path.</summary>
    public string FilePath { get; }

    /// <summary>The tensors in the file, by name, in the order of their data.</summary>
    public IReadOnlyDictionary<string, SafetensorsEntry> Tensors { get; }

    /// <summary>The string map under <c>__metadata__</c> (for example <c>format = pt</c>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens and validates the file at <paramref name="path"/>.</summary>
    /// <exception cref="SafetensorsFormatException">The file is not a well-formed safetensors file.</exception>
    public static SafetensorsFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors data is little-endian; this machine is big-endian.");
        }
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            var fileLength = RandomAccess.GetLength(handle);
            if (fileLength < 8)
            {
                throw new SafetensorsFormatException(path,
                    $"the file has {fileLength} bytes; a safetensors file starts with an 8-byte header length.");
            }
            Span<byte> prefix = stackalloc byte[8];
            ReadExactly(handle, prefix, 0, path);
            var headerLength = BitConverter.ToUInt64(prefix);
            if (headerLength > MaxHeaderBytes || (long)headerLength > fileLength - 8)
            {
                throw new SafetensorsFormatException(path,
                    $"the header length is {headerLength} bytes, but the file has {fileLength - 8} bytes after the length " +
                    $"(and headers are limited to {MaxHeaderBytes} bytes).");
            }
            var header = new byte[headerLength];
            ReadExactly(handle, header, 8, path);
            var dataStart = 8 + (long)headerLength;
            var (tensors, metadata) = ParseHeader(path, header, fileLength - dataStart);
            return new SafetensorsFile(path, handle, dataStart, tensors, metadata);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Tensor <paramref name="name"/> as a view of the file mapped into memory, copy-on-write: no byte is read until it is
    /// used, and the pages are the page cache's until something writes to them. The mapping lives as long as a view of
    /// it, past <see cref="Dispose"/>. A tensor whose offset is not a multiple of its element size is read instead.
    /// </summary>
    /// <exception cref="SafetensorsFormatException">The file has no tensor of that name.</exception>
    public Tensor Map(string name)
    {
        var entry = Entry(name);
        var elementSize = SafetensorsDtypes.ElementSize(entry.Dtype);
        var byteOffset = _dataStart + entry.Begin;
        if (byteOffset % elementSize != 0)
        {
            return Read(name);
        }
        if (!_mappings.TryGetValue(entry.ScalarType, out var mapping))
        {
            // libtorch maps a file from its first byte, so each dtype gets a mapping of the whole file in its elements.
            mapping = from_file(FilePath, shared: false, size: RandomAccess.GetLength(_handle) / elementSize, dtype: entry.ScalarType);
            _mappings[entry.ScalarType] = mapping;
        }
        using var elements = mapping.narrow(0, byteOffset / elementSize, entry.Shape.Aggregate(1L, (product, size) => product * size));
        return elements.view(entry.Shape);
    }

    /// <summary>Reads tensor <paramref name="name"/> into a new CPU tensor of its stored dtype, owned by the caller.</summary>
    /// <exception cref="SafetensorsFormatException">The file has no tensor of that name.</exception>
    public Tensor Read(string name)
    {
        var entry = Entry(name);
        var tensor = empty(entry.Shape, entry.ScalarType);
        try
        {
            ReadInto(entry, tensor);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads tensor <paramref name="name"/> into <paramref name="destination"/>: a contiguous CPU tensor of the stored
    /// dtype and element count (a reused buffer, so that a tensor to be converted costs no fresh memory of its own).
    /// </summary>
    /// <exception cref="SafetensorsFormatException">The file has no tensor of that name, or ends before its data.</exception>
    /// <exception cref="ArgumentException">The destination is not such a tensor.</exception>
    public void Read(string name, Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var entry = Entry(name);
        if (destination.device_type != TorchSharp.DeviceType.CPU || !destination.is_contiguous() || destination.dtype != entry.ScalarType
            || destination.numel() != entry.Shape.Aggregate(1L, (product, size) => product * size))
        {
            throw new ArgumentException(
                $"{name} needs a contiguous CPU {entry.Dtype} tensor of {entry.ShapeText}; the destination is {destination.dtype} {Shapes.Format(destination.shape)} on {destination.device}.",
                nameof(destination));
        }
        ReadInto(entry, destination);
    }

    private SafetensorsEntry Entry(string name) =>
        Tensors.TryGetValue(name, out var entry) ? entry : throw new SafetensorsFormatException(FilePath, $"no tensor named \"{name}\".");

    private void ReadInto(SafetensorsEntry entry, Tensor destination) =>
        TensorMemory.ForEachChunk(destination,
            (chunk, byteOffset) => ReadExactly(_handle, chunk, _dataStart + entry.Begin + byteOffset, FilePath));

    private static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset, string path)
    {
        while (buffer.Length > 0)
        {
            var read = RandomAccess.Read(handle, buffer, offset);
            if (read == 0)
            {
                throw new SafetensorsFormatException(path, $"the file ends at byte {offset}, before the data it declares.");
            }
            buffer = buffer[read..];
            offset += read;
        }
    }

    private static (IReadOnlyDictionary<string, SafetensorsEntry>, IReadOnlyDictionary<string, string>) ParseHeader(
        string path, byte[] header, long dataLength)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException error)
        {
            throw new SafetensorsFormatException(path, $"the header is not valid JSON: {error.Message}", error);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(path, $"the header is a JSON {document.RootElement.ValueKind}, not an object.");
            }
            var entries = new List<SafetensorsEntry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    throw new SafetensorsFormatException(path, $"the header names \"{property.Name}\" twice.");
                }
                if (property.Name == MetadataKey)
                {
                    ReadMetadata(path, property.Value, metadata);
                }
                else
                {
                    entries.Add(ReadEntry(path, property.Name, property.Value, dataLength));
                }
            }
            CheckNoOverlap(path, entries);
            var tensors = entries.OrderBy(entry => entry.Begin).ToDictionary(entry => entry.Name, StringComparer.Ordinal);
            return (tensors, metadata);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(path, $"{MetadataKey} must be an object of strings, not a JSON {value.ValueKind}.");
        }
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw new SafetensorsFormatException(path, $"{MetadataKey}.{item.Name} must be a string, not a JSON {item.Value.ValueKind}.");
            }
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static SafetensorsEntry ReadEntry(string path, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(path, $"tensor \"{name}\": expected an object with dtype, shape and data_offsets.");
        }
        var dtype = value.TryGetProperty("dtype", out var dtypeValue) && dtypeValue.ValueKind == JsonValueKind.String
            ? dtypeValue.GetString()!
            : throw new SafetensorsFormatException(path, $"tensor \"{name}\": dtype is missing or not a string.");
        if (!SafetensorsDtypes.IsKnown(dtype))
        {
            throw new SafetensorsFormatException(path,
                $"tensor \"{name}\": unknown dtype \"{dtype}\" (supported: {string.Join(", ", SafetensorsDtypes.Names)}).");
        }
        var shape = ReadIntegers(path, name, value, "shape");
        var offsets = ReadIntegers(path, name, value, "data_offsets");
        if (offsets.Length != 2 || offsets[0] > offsets[1])
        {
            throw new SafetensorsFormatException(path,
                $"tensor \"{name}\": data_offsets must be [begin, end] with begin <= end, found {Shapes.Format(offsets)}.");
        }
        var entry = new SafetensorsEntry(name, dtype, shape, offsets[0], offsets[1]);
        long expectedBytes;
        try
        {
            expectedBytes = checked(shape.Aggregate(1L, (product, size) => product * size) * SafetensorsDtypes.ElementSize(dtype));
        }
        catch (OverflowException error)
        {
            throw new SafetensorsFormatException(path, $"tensor \"{name}\": shape {entry.ShapeText} is too large.", error);
        }
        if (entry.End - entry.Begin != expectedBytes)
        {
            throw new SafetensorsFormatException(path,
                $"tensor \"{name}\": data_offsets [{entry.Begin}, {entry.End}] hold {entry.End - entry.Begin} bytes, " +
                $"but {dtype} {entry.ShapeText} needs {expectedBytes}.");
        }
        if (entry.End > dataLength)
        {
            throw new SafetensorsFormatException(path,
                $"tensor \"{name}\": data_offsets [{entry.Begin}, {entry.End}] reach past the end of the data section " +
                $"({dataLength} bytes); the file is truncated or the offsets are wrong.");
        }
        return entry;
    }

    private static long[] ReadIntegers(string path, string name, JsonElement value, string key)
    {
        if (!value.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw new SafetensorsFormatException(path, $"tensor \"{name}\": {key} is missing or not an array.");
        }
        var result = new long[array.GetArrayLength()];
        var index = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var number) || number < 0)
            {
                throw new SafetensorsFormatException(path, $"tensor \"{name}\": {key} must hold non-negative integers, found {item.GetRawText()}.");
            }
            result[index++] = number;
        }
        return result;
    }

    private static void CheckNoOverlap(string path, List<SafetensorsEntry> entries)
    {
        var ordered = entries.Where(entry => entry.End > entry.Begin).OrderBy(entry => entry.Begin).ToList();
        for (var i = 1; i < ordered.Count; i++)
        {
            if (ordered[i].Begin < ordered[i - 1].End)
            {
                throw new SafetensorsFormatException(path,
                    $"tensors \"{ordered[i - 1].Name}\" [{ordered[i - 1].Begin}, {ordered[i - 1].End}] and " +
                    $"\"{ordered[i].Name}\" [{ordered[i].Begin}, {ordered[i].End}] overlap.");
            }
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        foreach (var mapping in _mappings.Values)
        {
            mapping.Dispose();
        }
        _mappings.Clear();
        _handle.Dispose();
    }
}
