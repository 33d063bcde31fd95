using NnSight.Serialization;
using System.Text.Json;
using static TorchSharp.torch;

namespace NnSight.Models.Loading;

/// <summary>
/// A model folder's weights: <c>model.safetensors</c>, or the shards named by <c>model.safetensors.index.json</c>.
/// Every file is validated when the checkpoint is opened.
/// </summary>
internal sealed class SafetensorsCheckpoint : IDisposable
{
    /// <summary>The single-file checkpoint name.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The index of a sharded checkpoint.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _fileOf;

    private SafetensorsCheckpoint(List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> fileOf)
    {
        _files = files;
        _fileOf = fileOf;
        Tensors = fileOf.ToDictionary(pair => pair.Key, pair => pair.Value.Tensors[pair.Key], StringComparer.Ordinal);
    }

    /// <summary>Every tensor of the checkpoint, by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsEntry> Tensors { get; }

    /// <summary>Opens the weights in <paramref name="folder"/>.</summary>
    /// <exception cref="CheckpointException">The folder has neither weights file.</exception>
    /// <exception cref="SafetensorsFormatException">A file or the index is malformed or inconsistent.</exception>
    public static SafetensorsCheckpoint Open(string folder)
    {
        var index = Path.Combine(folder, IndexFileName);
        if (File.Exists(index))
        {
            return OpenSharded(folder, index);
        }
        var single = Path.Combine(folder, SingleFileName);
        if (!File.Exists(single))
        {
            throw new CheckpointException(
                $"{folder} has neither {SingleFileName} nor {IndexFileName}. Only safetensors checkpoints are read; " +
                "convert a pytorch_model.bin with HuggingFace's save_pretrained(..., safe_serialization=True).");
        }
        var file = SafetensorsFile.Open(single);
        return new SafetensorsCheckpoint([file], file.Tensors.Keys.ToDictionary(name => name, _ => file, StringComparer.Ordinal));
    }

    /// <summary>Tensor <paramref name="name"/> as a copy-on-write view of its mapped file (see <see cref="SafetensorsFile.Map"/>).</summary>
    public Tensor Map(string name) => _fileOf[name].Map(name);

    /// <summary>Reads tensor <paramref name="name"/> into a buffer (see <see cref="SafetensorsFile.Read(string, Tensor)"/>).</summary>
    public void Read(string name, Tensor destination) => _fileOf[name].Read(name, destination);

    private static SafetensorsCheckpoint OpenSharded(string folder, string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        var files = new List<SafetensorsFile>();
        try
        {
            var fileOf = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var shardName in ShardNames(weightMap))
            {
                var shard = SafetensorsFile.Open(Path.Combine(folder, shardName));
                files.Add(shard);
                foreach (var tensor in shard.Tensors.Keys)
                {
                    if (fileOf.TryGetValue(tensor, out var other))
                    {
                        throw new SafetensorsFormatException(shard.FilePath,
                            $"tensor \"{tensor}\" is stored in both {Path.GetFileName(other.FilePath)} and {shardName}.");
                    }
                    fileOf[tensor] = shard;
                }
            }
            foreach (var (tensor, shardName) in weightMap)
            {
                if (!fileOf.TryGetValue(tensor, out var shard) || Path.GetFileName(shard.FilePath) != shardName)
                {
                    throw new SafetensorsFormatException(indexPath,
                        $"the index places tensor \"{tensor}\" in {shardName}, which does not hold it.");
                }
            }
            return new SafetensorsCheckpoint(files, fileOf);
        }
        catch
        {
            files.ForEach(file => file.Dispose());
            throw;
        }
    }

    /// <summary>The shard files a weight map names, each once, in ordinal order.</summary>
    internal static List<string> ShardNames(Dictionary<string, string> weightMap) =>
        [.. weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>The index's tensor → shard file name map.</summary>
    /// <exception cref="SafetensorsFormatException">The index is not JSON, has no weight_map, or names a shard that is not a file name.</exception>
    internal static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(indexPath, "the index has no weight_map object.");
            }
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                var shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : "";
                if (shard.Length == 0 || shard != Path.GetFileName(shard))
                {
                    throw new SafetensorsFormatException(indexPath,
                        $"weight_map[\"{entry.Name}\"] must be the file name of a shard in the same folder, found {entry.Value.GetRawText()}.");
                }
                result[entry.Name] = shard;
            }
            return result;
        }
        catch (JsonException error)
        {
            throw new SafetensorsFormatException(indexPath, $"the index is not valid JSON: {error.Message}", error);
        }
    }

    /// <summary>Closes every file.</summary>
    public void Dispose() => _files.ForEach(file => file.Dispose());
}
