using NnSight.Serialization;
using NnSight.Models.Loading;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Models.Tests;

/// <summary>Model folders derived from a bundled tiny model in a temporary folder: other dtypes, shards, names.</summary>
internal sealed class CheckpointVariants : IDisposable
{
    private readonly TemporaryFolder _folder = new();
    private readonly string _source;

    /// <summary>Variants of the model in <paramref name="source"/> (the tiny GPT-2 unless given).</summary>
    public CheckpointVariants(string? source = null)
    {
        _source = source ?? RepositoryPaths.TinyGpt2;
        using var file = SafetensorsFile.Open(Path.Combine(_source, SafetensorsCheckpoint.SingleFileName));
        Tensors = file.Tensors.Keys.Select(name => new KeyValuePair<string, Tensor>(name, file.Read(name))).ToList();
    }

    /// <summary>The bundled checkpoint's tensors, in file order (the caller must not dispose them).</summary>
    public List<KeyValuePair<string, Tensor>> Tensors { get; }

    /// <summary>A model folder with the bundled configs and <paramref name="tensors"/> as model.safetensors.</summary>
    public string Folder(string name, IEnumerable<KeyValuePair<string, Tensor>> tensors, string? config = null)
    {
        var folder = NewFolder(name);
        if (config is not null)
        {
            File.WriteAllText(Path.Combine(folder, "config.json"), config);
        }
        SafetensorsWriter.Write(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName), tensors);
        return folder;
    }

    /// <summary>A model folder whose weights are split across <paramref name="shards"/> files with an index.</summary>
    public string Sharded(string name, int shards)
    {
        var folder = NewFolder(name);
        var weightMap = new Dictionary<string, string>();
        var perShard = (Tensors.Count + shards - 1) / shards;
        for (var shard = 0; shard < shards; shard++)
        {
            var fileName = $"model-{shard + 1:00000}-of-{shards:00000}.safetensors";
            var part = Tensors.Skip(shard * perShard).Take(perShard).ToList();
            SafetensorsWriter.Write(Path.Combine(folder, fileName), part);
            part.ForEach(tensor => weightMap[tensor.Key] = fileName);
        }
        File.WriteAllText(Path.Combine(folder, SafetensorsCheckpoint.IndexFileName),
            System.Text.Json.JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = weightMap }));
        return folder;
    }

    /// <summary>The bundled tensors converted to <paramref name="dtype"/>.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> Converted(ScalarType dtype) =>
        Tensors.Select(pair => new KeyValuePair<string, Tensor>(pair.Key, pair.Value.to_type(dtype)));

    private string NewFolder(string name)
    {
        var folder = Path.Combine(_folder.FullPath, name);
        Directory.CreateDirectory(folder);
        foreach (var config in new[] { "config.json", "generation_config.json" })
        {
            File.Copy(Path.Combine(_source, config), Path.Combine(folder, config));
        }
        return folder;
    }

    public void Dispose()
    {
        Tensors.ForEach(pair => pair.Value.Dispose());
        _folder.Dispose();
    }
}
