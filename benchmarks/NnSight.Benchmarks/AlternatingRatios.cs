using System.Globalization;

namespace NnSight.Benchmarks;

/// <summary>
/// The ratios of <see cref="TracingOverheadBenchmarks"/> and <see cref="StepAndCacheBenchmarks"/> measured the way the
/// project states speed claims: each pair run alternately (plain, traced, plain, traced, ...) in one process, so drift
/// of the machine's speed falls on both sides, and the medians compared. BenchmarkDotNet runs one case after the other, so its ratios carry that drift.
/// </summary>
internal static class AlternatingRatios
{
    public static void Run(int rounds)
    {
        var tracing = new TracingOverheadBenchmarks();
        tracing.Setup();
        try
        {
            Compare("trace with 24 saves / forward 1x128", rounds, tracing.Plain, tracing.TwentyFourSaves, 1.02);
        }
        finally
        {
            tracing.Cleanup();
        }
        var benchmarks = new StepAndCacheBenchmarks();
        benchmarks.Setup();
        try
        {
            Compare("All(): steer h.6 over 32 tokens / bare generation", rounds, benchmarks.BareGeneration, benchmarks.SteeredGeneration, 1.05);
            Compare("Cache() of every module / forward 1x128", rounds, benchmarks.Forward, benchmarks.CacheEveryModule, 1.10);
            Compare("save h.0 and Stop() / forward 1x128", rounds, benchmarks.Forward, benchmarks.StopAfterFirstBlock, 0.15);
        }
        finally
        {
            benchmarks.Cleanup();
        }
    }

    private static void Compare(string name, int rounds, Action baseline, Action measured, double target)
    {
        var (baselineMedian, measuredMedian) = Measure.Alternate(baseline, measured, rounds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {measuredMedian:F1} ms / {baselineMedian:F1} ms = {measuredMedian / baselineMedian:F3} (target <= {target:F2}, {rounds} alternating rounds)"));
    }
}
