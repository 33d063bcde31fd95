using System.Diagnostics;
using System.Globalization;

namespace NnSight.Benchmarks;

/// <summary>
/// The ratios of <see cref="StepAndCacheBenchmarks"/> measured the way the project states speed claims: each pair run
/// alternately (plain, traced, plain, traced, ...) in one process, so drift of the machine's speed falls on both sides,
/// and the medians compared. BenchmarkDotNet runs one case after the other, so its ratios carry that drift.
/// </summary>
internal static class AlternatingRatios
{
    private const int Warmup = 2;

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
        var (baselineTimes, measuredTimes) = (new List<double>(), new List<double>());
        for (var round = 0; round < rounds + Warmup; round++)
        {
            var baselineTime = Time(baseline);
            var measuredTime = Time(measured);
            if (round >= Warmup)
            {
                baselineTimes.Add(baselineTime);
                measuredTimes.Add(measuredTime);
            }
        }
        var ratio = Median(measuredTimes) / Median(baselineTimes);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {Median(measuredTimes):F1} ms / {Median(baselineTimes):F1} ms = {ratio:F3} (target <= {target:F2}, {rounds} alternating rounds)"));
    }

    private static double Time(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalMilliseconds;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
}
