using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NnSight.Models;
using NnSight.Serialization;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// Load time and peak memory of a TinyLlama-1.1B-shaped BF16 checkpoint (22 layers, hidden 2048, 2.2 GB), one file or
/// four shards, or of any model folder or hub id, against reading the same files from the page cache. The generated
/// folder is written once under the temporary folder (random weights from a private generator). Each load runs in a child process of its own, so its peak
/// resident memory (VmHWM) is the load's; reads and loads alternate, and medians are reported with their ratios.
/// </summary>
internal static class LoadingBenchmark
{
    private const int Rounds = 3;

    /// <param name="model">A number of files to write the TinyLlama-shaped checkpoint in, or a model folder or hub id.</param>
    public static void Run(string model)
    {
        string folder;
        if (int.TryParse(model, CultureInfo.InvariantCulture, out var shards))
        {
            folder = Path.Combine(Path.GetTempPath(), $"nnsight-bench-tinyllama-bf16-{shards}");
            if (!File.Exists(Path.Combine(folder, "config.json")))
            {
                Console.WriteLine($"Writing the checkpoint to {folder} ...");
                WriteCheckpoint(folder, shards);
            }
        }
        else
        {
            // A hub id (or a folder of its own) is resolved as FromPretrained does: a hub id is downloaded into (or found in)
            // the HuggingFace cache, and the loads then read its snapshot folder.
            folder = Models.Hub.HubResolver.Resolve(model, revision: null, Models.Hub.HubSettings.FromEnvironment(), showProgress: true, _ => { }).Folder;
        }
        var fileBytes = Directory.GetFiles(folder, "*.safetensors").Sum(file => new FileInfo(file).Length);
        ReadFiles(folder);
        var reads = new List<double>();
        var kept = new List<LoadRun>();
        var widened = new List<LoadRun>();
        var conversions = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            reads.Add(ReadFiles(folder));
            kept.Add(LoadInChild(folder, "keep"));
            reads.Add(ReadFiles(folder));
            widened.Add(LoadInChild(folder, "float32"));
            conversions.Add(double.Parse(RunChild("convert-once", folder), CultureInfo.InvariantCulture));
        }
        var read = Median(reads);
        var conversion = Median(conversions);
        Console.WriteLine($"{folder}: {Directory.GetFiles(folder, "*.safetensors").Length} file(s), {fileBytes / 1e9:F2} GB; medians of {Rounds} alternating runs, {get_num_threads()} threads");
        Console.WriteLine($"read the files (page cache) {read:F2} s");
        Report("load as stored", kept, read);
        Report("load as F32", widened, read);
        var widenedSeconds = Median([.. widened.Select(run => run.Seconds)]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"the same tensors converted to F32 in memory: {conversion:F2} s; the load beyond it: {widenedSeconds - conversion:F2} s = {(widenedSeconds - conversion) / read:F2}x the read"));
    }

    /// <summary>
    /// Reads every tensor of the folder as stored, then prints the seconds it takes to convert them all to float32 into
    /// memory of their own (what any BF16 → F32 load must do besides reading).
    /// </summary>
    public static void ConvertOnce(string folder)
    {
        var stored = new List<Tensor>();
        foreach (var path in Directory.GetFiles(folder, "*.safetensors"))
        {
            using var file = SafetensorsFile.Open(path);
            stored.AddRange(file.Tensors.Keys.Select(file.Read));
        }
        var clock = Stopwatch.StartNew();
        var converted = stored.Select(tensor => empty(tensor.shape, dtype: ScalarType.Float32).copy_(tensor)).ToList();
        Console.WriteLine(clock.Elapsed.TotalSeconds.ToString(CultureInfo.InvariantCulture));
        converted.Concat(stored).ToList().ForEach(tensor => tensor.Dispose());
    }

    /// <summary>
    /// Loads the folder once (after libtorch itself is loaded, a cost of the process rather than of the load), then reads
    /// every parameter once, which brings mapped weights in from the page cache; prints both times, the peak resident
    /// MiB and the parameters' MiB as JSON.
    /// </summary>
    public static void LoadOnce(string folder, string dtype)
    {
        zeros(1).Dispose();
        var clock = Stopwatch.StartNew();
        using var model = LanguageModel.FromPretrained(folder, "cpu", dtype == "float32" ? ScalarType.Float32 : null, showProgress: false);
        var seconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        using (no_grad())
        {
            foreach (var parameter in model.Module.parameters())
            {
                parameter.sum().Dispose();
            }
        }
        var touchSeconds = clock.Elapsed.TotalSeconds;
        var modelBytes = model.Module.parameters().Sum(parameter => parameter.numel() * parameter.ElementSize);
        Console.WriteLine(JsonSerializer.Serialize(new { seconds, touchSeconds, peakMiB = PeakResidentMiB(), modelMiB = modelBytes / 1048576.0 }));
    }

    private static void Report(string name, List<LoadRun> runs, double read)
    {
        var seconds = Median([.. runs.Select(run => run.Seconds)]);
        var touch = Median([.. runs.Select(run => run.TouchSeconds)]);
        var peak = Median([.. runs.Select(run => run.PeakMiB)]);
        var model = runs[0].ModelMiB;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-22} {seconds:F2} s = {seconds / read:F2}x the read; first read of every parameter {touch:F2} s " +
            $"(load + first read = {(seconds + touch) / read:F2}x); peak RSS {peak:F0} MiB for {model:F0} MiB of parameters " +
            $"= {(peak - 400) / model:F3}x + 400 MiB"));
    }

    private sealed record LoadRun(double Seconds, double TouchSeconds, double PeakMiB, double ModelMiB);

    private static LoadRun LoadInChild(string folder, string dtype)
    {
        using var result = JsonDocument.Parse(RunChild("load-once", folder, dtype));
        var root = result.RootElement;
        return new LoadRun(root.GetProperty("seconds").GetDouble(), root.GetProperty("touchSeconds").GetDouble(),
            root.GetProperty("peakMiB").GetDouble(), root.GetProperty("modelMiB").GetDouble());
    }

    /// <summary>Runs this program with <paramref name="arguments"/>; returns the last line it printed.</summary>
    private static string RunChild(params string[] arguments) =>
        BenchmarkPaths.Output(BenchmarkPaths.Self(arguments)).Trim().Split('\n')[^1];

    /// <summary>Reads every weights file once through a 16 MiB buffer, as <c>cat</c> would; returns the seconds.</summary>
    private static double ReadFiles(string folder)
    {
        var buffer = new byte[16 << 20];
        var clock = Stopwatch.StartNew();
        foreach (var path in Directory.GetFiles(folder, "*.safetensors"))
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            while (stream.Read(buffer) > 0)
            {
            }
        }
        return clock.Elapsed.TotalSeconds;
    }

    private static double PeakResidentMiB() => PeakMemory.StatusBytes("VmHWM") / 1048576.0;

    private static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>TinyLlama-1.1B's shapes and config, BF16, weights normal(0, 0.02) and norms one.</summary>
    private static void WriteCheckpoint(string folder, int shards)
    {
        const int layers = 22, hidden = 2048, intermediate = 5632, heads = 32, keyValueHeads = 4, vocabulary = 32000;
        const int headDim = hidden / heads;
        var shapes = new List<(string Name, long[] Shape)> { ("model.embed_tokens.weight", [vocabulary, hidden]) };
        for (var layer = 0; layer < layers; layer++)
        {
            var prefix = $"model.layers.{layer}.";
            shapes.AddRange([
                (prefix + "self_attn.q_proj.weight", [heads * headDim, hidden]),
                (prefix + "self_attn.k_proj.weight", [keyValueHeads * headDim, hidden]),
                (prefix + "self_attn.v_proj.weight", [keyValueHeads * headDim, hidden]),
                (prefix + "self_attn.o_proj.weight", [hidden, heads * headDim]),
                (prefix + "mlp.gate_proj.weight", [intermediate, hidden]),
                (prefix + "mlp.up_proj.weight", [intermediate, hidden]),
                (prefix + "mlp.down_proj.weight", [hidden, intermediate]),
                (prefix + "input_layernorm.weight", [hidden]),
                (prefix + "post_attention_layernorm.weight", [hidden]),
            ]);
        }
        shapes.Add(("model.norm.weight", [hidden]));
        shapes.Add(("lm_head.weight", [vocabulary, hidden]));

        var partial = folder + ".partial";
        Directory.CreateDirectory(partial);
        using var generator = new Generator(seed: 0);
        var perShard = (shapes.Count + shards - 1) / shards;
        var weightMap = new Dictionary<string, string>();
        for (var shard = 0; shard < shards; shard++)
        {
            var file = shards == 1 ? "model.safetensors" : $"model-{shard + 1:D5}-of-{shards:D5}.safetensors";
            var part = shapes.Skip(shard * perShard).Take(perShard).ToList();
            var tensors = part.Select(entry => new KeyValuePair<string, Tensor>(entry.Name, entry.Shape.Length == 1
                ? ones(entry.Shape, ScalarType.BFloat16)
                : (randn(entry.Shape, generator: generator) * 0.02).to_type(ScalarType.BFloat16))).ToList();
            SafetensorsWriter.Write(Path.Combine(partial, file), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            tensors.ForEach(pair => pair.Value.Dispose());
            part.ForEach(entry => weightMap[entry.Name] = file);
        }
        if (shards > 1)
        {
            File.WriteAllText(Path.Combine(partial, "model.safetensors.index.json"), JsonSerializer.Serialize(new { metadata = new { }, weight_map = weightMap }));
        }
        File.WriteAllText(Path.Combine(partial, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["architectures"] = new[] { "LlamaForCausalLM" }, ["model_type"] = "llama", ["hidden_size"] = hidden,
            ["intermediate_size"] = intermediate, ["num_hidden_layers"] = layers, ["num_attention_heads"] = heads,
            ["num_key_value_heads"] = keyValueHeads, ["vocab_size"] = vocabulary, ["max_position_embeddings"] = 2048,
            ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 10000.0, ["hidden_act"] = "silu", ["tie_word_embeddings"] = false,
            ["bos_token_id"] = 1, ["eos_token_id"] = 2, ["torch_dtype"] = "bfloat16",
        }));
        Directory.Move(partial, folder);
    }
}
