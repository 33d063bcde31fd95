using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using NnSight.Models;
using NnSight.Models.Gpt2;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// Peak memory of a GPT-2-small forward over 1 × 1,024 tokens (random weights, float32), plain against traced with block
/// 6's hidden states read (not saved) and saved: the rise of the process's peak resident set (Linux: VmHWM, reset through
/// /proc/self/clear_refs) over the resident set before each run, freed heap memory returned first (malloc_trim), the
/// two alternately; medians. The traced run should need at most the plain one plus the saved layer. It runs in a child
/// process with glibc's mmap threshold fixed at 128 KiB: every tensor then has pages of its own, returned when it is
/// freed, so the resident set follows the live tensors (with the default, freed heap memory stayed resident and the
/// same figure moved by 15 MB between runs).
/// </summary>
internal static class PeakMemory
{
    private const int Tokens = 1024;
    private const string MmapThreshold = "MALLOC_MMAP_THRESHOLD_";

    public static void Run(int rounds)
    {
        if (Environment.GetEnvironmentVariable(MmapThreshold) is null)
        {
            var start = BenchmarkPaths.Self("peak-memory", rounds.ToString(CultureInfo.InvariantCulture));
            start.RedirectStandardOutput = false;
            start.Environment[MmapThreshold] = "131072";
            using var child = Process.Start(start)!;
            child.WaitForExit();
            Environment.ExitCode = child.ExitCode;
            return;
        }

        set_num_threads(2);
        manual_seed(0);
        using var model = new LanguageModel(new GPT2LMHeadModel(new GPT2Config()));
        long[] ids = [.. Enumerable.Range(0, Tokens).Select(i => (long)i * 37 % 50000)];
        using var batch = model.Batch([ids]);
        void Plain() => model.Forward(batch).Dispose();
        void Traced(bool save)
        {
            TensorProxy? saved = null;
            var tracer = model.Trace();
            using (tracer)
            using (tracer.Invoke(ids))
            {
                var hidden = model.Envoy("transformer.h")[6].Output[0];
                saved = save ? hidden.Save() : null;
            }
            tracer.Output.Dispose();
            saved?.Value.Dispose();
        }

        var (plain, accessed, traced) = (new List<long>(), new List<long>(), new List<long>());
        for (var round = -1; round < rounds; round++)
        {
            var (plainRise, accessedRise, tracedRise) = (Rise(Plain), Rise(() => Traced(save: false)), Rise(() => Traced(save: true)));
            if (round >= 0)
            {
                plain.Add(plainRise);
                accessed.Add(accessedRise);
                traced.Add(tracedRise);
            }
        }
        var layer = (long)Tokens * 768 * sizeof(float);
        var (plainMedian, accessedMedian, tracedMedian) = (Median(plain), Median(accessed), Median(traced));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"GPT-2-small forward 1x{Tokens}, peak rise over the resident set, medians of {rounds} alternating rounds:"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"plain {plainMedian / 1e6:F1} MB; traced, block 6's output read and not saved {accessedMedian / 1e6:F1} MB; " +
            $"traced with it saved {tracedMedian / 1e6:F1} MB, {(tracedMedian - plainMedian) / 1e6:F1} MB over plain; " +
            $"the layer is {layer / 1e6:F1} MB (target: at most the layer over plain)"));
    }

    /// <summary>How far the peak resident set rises above the resident set while <paramref name="run"/> runs, in bytes.</summary>
    private static long Rise(Action run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        _ = MallocTrim(0);
        File.WriteAllText("/proc/self/clear_refs", "5");
        var before = StatusBytes("VmRSS");
        run();
        return StatusBytes("VmHWM") - before;
    }

    /// <summary>A size field of /proc/self/status (VmRSS, VmHWM) in bytes.</summary>
    internal static long StatusBytes(string field) =>
        long.Parse(File.ReadLines("/proc/self/status").First(line => line.StartsWith(field + ":", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

    private static long Median(List<long> values) => values.Order().ElementAt(values.Count / 2);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
