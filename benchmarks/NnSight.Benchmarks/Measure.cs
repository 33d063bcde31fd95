using System.Diagnostics;

namespace NnSight.Benchmarks;

/// <summary>The timing the in-process comparisons share: milliseconds of one call, and two actions run alternately.</summary>
internal static class Measure
{
    public static double Time(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalMilliseconds;
    }

    /// <summary>The middle value (the upper of the two middle ones for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>
    /// Runs <paramref name="first"/> and <paramref name="second"/> one after the other, <paramref name="warmup"/> rounds
    /// unrecorded and then <paramref name="rounds"/> recorded, so the machine's drift falls on both; returns their medians.
    /// </summary>
    public static (double First, double Second) Alternate(Action first, Action second, int rounds, int warmup = 2)
    {
        var (firstTimes, secondTimes) = (new List<double>(), new List<double>());
        for (var round = 0; round < rounds + warmup; round++)
        {
            var (firstTime, secondTime) = (Time(first), Time(second));
            if (round >= warmup)
            {
                firstTimes.Add(firstTime);
                secondTimes.Add(secondTime);
            }
        }
        return (Median(firstTimes), Median(secondTimes));
    }
}
