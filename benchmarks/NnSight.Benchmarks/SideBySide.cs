using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NnSight.Models;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// NnSight against PyTorch on the same machine, the same random checkpoint and the same inputs: the PyTorch side is
/// benchmarks/pytorch (HuggingFace 4.36's ops, eager attention), the NnSight side loads the same folder through
/// <see cref="LanguageModel"/>. Both run in child processes of their own with 2 threads, alternately, and report the
/// medians of forward 1×128, 8×128 and 1×1,024, greedy generation of 32 tokens after a 10-token prompt (key/value
/// cache, the head on the last position only) and the throughput of the same for eight left-padded prompts of 10 to 80
/// tokens, with the first logits of the last position and of the shortest padded prompt, which must agree. With
/// <c>intel-kernels</c>, NnSight also runs a third time per round with tools/mkl-intel-kernels preloaded (MKL's AVX2
/// kernels on a non-Intel CPU), built with <c>cc</c>.
/// </summary>
internal static class SideBySide
{
    private const int Threads = 2;

    /// <summary>Each figure, and whether it is a throughput (higher is better) rather than a time.</summary>
    private static readonly (string Name, bool Throughput)[] Figures =
    [
        ("forward_1x128_ms", false), ("forward_8x128_ms", false), ("forward_1x1024_ms", false), ("greedy32_ms", false),
        ("batch8_greedy32_tokens_per_s", true),
    ];

    /// <param name="architecture"><c>gpt2</c> (GPT-2-small) or <c>llama</c> (Llama-125M: 12 × 768, 12/4 heads, SwiGLU 2048, vocab 32000).</param>
    /// <param name="rounds">How many times each side runs.</param>
    /// <param name="intelKernels">Whether to run NnSight with MKL's Intel kernels too.</param>
    public static void Run(string architecture, int rounds, bool intelKernels)
    {
        var scripts = Path.Combine(BenchmarkPaths.RepositoryRoot(), "benchmarks", "pytorch");
        var folder = Path.Combine(Path.GetTempPath(), $"nnsight-bench-{architecture}-side-by-side");
        if (!File.Exists(Path.Combine(folder, "config.json")))
        {
            string[] make = architecture == "gpt2"
                ? [Path.Combine(scripts, "make_gpt2_checkpoint.py"), folder]
                : [Path.Combine(scripts, "make_llama_checkpoint.py"), folder, "--layers", "12", "--hidden", "768", "--inter", "2048", "--heads", "12", "--kv", "4", "--vocab", "32000"];
            Console.WriteLine(Python(make));
        }
        var preload = intelKernels ? BuildIntelKernels() : null;
        var pytorch = new List<JsonElement>();
        var nnsight = new List<JsonElement>();
        var nnsightIntel = new List<JsonElement>();
        string[] once = ["side-by-side-once", architecture, folder];
        for (var round = 0; round < rounds; round++)
        {
            pytorch.Add(Parse(Python(Path.Combine(scripts, $"{architecture}_torch.py"), folder, Threads.ToString(CultureInfo.InvariantCulture))));
            nnsight.Add(Parse(NnSight(once, preload: null)));
            if (preload is not null)
            {
                nnsightIntel.Add(Parse(NnSight(once, preload)));
            }
        }
        Console.WriteLine($"{architecture}, {CpuModel()}, {Threads} threads each side, medians of {rounds} alternating runs of each side");
        var intelColumns = preload is null ? "" : $" {"NnSight, Intel kernels",24} {"time ratio",10}";
        Console.WriteLine($"{"",-30} {"PyTorch",10} {"NnSight",10} {"time ratio",10}{intelColumns}");
        foreach (var (figure, throughput) in Figures)
        {
            var theirs = Median(pytorch, figure);
            // NnSight's time over PyTorch's: below 1 is faster, for a throughput too.
            string Column(List<JsonElement> runs, int width)
            {
                var ours = Median(runs, figure);
                var ratio = throughput ? theirs / ours : ours / theirs;
                return string.Create(CultureInfo.InvariantCulture, $" {ours.ToString("F1", CultureInfo.InvariantCulture).PadLeft(width)} {ratio,10:F3}");
            }
            var intel = preload is null ? "" : Column(nnsightIntel, 24);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{figure,-30} {theirs,10:F1}{Column(nnsight, 10)}{intel}"));
        }
        foreach (var (check, what) in new[] { ("last_logits_head", "last-position logits"), ("padded_logits_head", "shortest padded prompt's last logits") })
        {
            var theirHead = pytorch[0].GetProperty(check).EnumerateArray().Select(value => value.GetDouble()).ToArray();
            double Largest(List<JsonElement> runs) => theirHead
                .Zip(runs[0].GetProperty(check).EnumerateArray().Select(value => value.GetDouble()), (a, b) => Math.Abs(a - b)).Max();
            var intel = preload is null ? "" : string.Create(CultureInfo.InvariantCulture, $", with Intel kernels {Largest(nnsightIntel):E1}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what} [0..8): largest difference {Largest(nnsight):E1}{intel} (PyTorch {string.Join(", ", theirHead)})"));
        }
    }

    /// <summary>The NnSight side, in a process of its own: prints the figures as JSON, as the PyTorch scripts do.</summary>
    public static void Once(string architecture, string folder)
    {
        // The model first: creating it selects MKL's kernels, which must come before MKL's first call (set_num_threads).
        using var model = LanguageModel.FromPretrained(folder, "cpu", ScalarType.Float32, showProgress: false);
        set_num_threads(Threads);
        var vocabulary = architecture == "gpt2" ? 50000 : model.Config.VocabSize - 100;
        long[] Ids(int row, int count) => [.. Enumerable.Range(row * 128, count).Select(i => (long)i * 37 % vocabulary)];
        using var one = model.Batch([Ids(0, 128)]);
        using var eight = model.Batch([.. Enumerable.Range(0, 8).Select(row => (IReadOnlyList<long>)Ids(row, 128))]);
        using var long1024 = model.Batch([[.. Enumerable.Range(0, 1024).Select(i => (long)i * 37 % vocabulary)]]);
        using var prompt = model.Batch([Ids(0, 10)]);
        // Eight prompts of 10 to 80 tokens, left-padded to the longest, as the PyTorch side builds them.
        using var mixed = model.Batch([.. Enumerable.Range(0, 8).Select(row =>
            (IReadOnlyList<long>)[.. Enumerable.Range(0, 10 * (row + 1)).Select(i => ((long)i * 37 + row * 1000) % vocabulary)])]);
        var greedy = new GenerationOptions { MaxNewTokens = 32, EosTokenId = -1 };

        model.Forward(one).Dispose();
        var forward1 = Median(7, () => model.Forward(one).Dispose());
        var forward8 = Median(3, () => model.Forward(eight).Dispose());
        var forward1024 = Median(3, () => model.Forward(long1024).Dispose());
        var generate = Median(3, () => model.GenerateIds(prompt, greedy).Dispose());
        var generateMixed = Median(3, () => model.GenerateIds(mixed, greedy).Dispose());
        using var check = model.Forward(one);
        using var checkMixed = model.Forward(mixed);
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["forward_1x128_ms"] = Math.Round(forward1, 1), ["forward_8x128_ms"] = Math.Round(forward8, 1),
            ["forward_1x1024_ms"] = Math.Round(forward1024, 1), ["greedy32_ms"] = Math.Round(generate, 1),
            ["batch8_greedy32_tokens_per_s"] = Math.Round(8 * 32 / (generateMixed / 1000), 1),
            ["last_logits_head"] = Head(check.Logits), ["padded_logits_head"] = Head(checkMixed.Logits),
        }));
    }

    /// <summary>The first 8 logits of row 0's last position, to 5 decimals.</summary>
    private static double[] Head(Tensor logits) =>
        [.. logits[0, -1, ..8].to_type(ScalarType.Float64).data<double>().Select(value => Math.Round(value, 5))];

    private static double Median(int runs, Action action)
    {
        var times = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var clock = Stopwatch.StartNew();
            action();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        return times.Order().ElementAt(runs / 2);
    }

    private static double Median(List<JsonElement> runs, string figure)
    {
        var values = runs.Select(run => run.GetProperty(figure).GetDouble()).Order().ToArray();
        return values.Length % 2 == 1 ? values[values.Length / 2] : (values[values.Length / 2 - 1] + values[values.Length / 2]) / 2;
    }

    private static JsonElement Parse(string output) => JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;

    /// <summary>Builds tools/mkl-intel-kernels into a temporary folder and returns the library's path.</summary>
    private static string BuildIntelKernels()
    {
        var source = Path.Combine(BenchmarkPaths.RepositoryRoot(), "tools", "mkl-intel-kernels", "mkl_intel_kernels.c");
        var library = Path.Combine(Path.GetTempPath(), "nnsight-bench-mkl-intel-kernels.so");
        BenchmarkPaths.Output(new ProcessStartInfo("cc", ["-shared", "-fPIC", "-O2", "-o", library, source]) { RedirectStandardOutput = true });
        return library;
    }

    private static string Python(params string[] arguments) =>
        BenchmarkPaths.Output(new ProcessStartInfo("/usr/bin/python3", arguments) { RedirectStandardOutput = true });

    /// <summary>This program's NnSight side; <paramref name="preload"/> is loaded ahead of all other libraries, and with
    /// none, a preload this process was started with is not passed on.</summary>
    private static string NnSight(string[] arguments, string? preload)
    {
        var start = BenchmarkPaths.Self(arguments);
        start.Environment.Remove("LD_PRELOAD");
        if (preload is not null)
        {
            start.Environment["LD_PRELOAD"] = preload;
        }
        return BenchmarkPaths.Output(start);
    }

    private static string CpuModel() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(line => line.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
}
