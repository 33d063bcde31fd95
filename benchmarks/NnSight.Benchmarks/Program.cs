using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

switch (args)
{
    case ["session-traffic"]:
        NnSight.Benchmarks.RemoteSessionTraffic.Run();
        return;
    case ["server-throughput", .. var rest]:
        NnSight.Benchmarks.ServerThroughput.Run(rest is [var jobs] ? Count(jobs) : 30);
        return;
    case ["loading", var model]:
        NnSight.Benchmarks.LoadingBenchmark.Run(model);
        return;
    case ["load-once", var folder, var dtype]:
        NnSight.Benchmarks.LoadingBenchmark.LoadOnce(folder, dtype);
        return;
    case ["convert-once", var folder]:
        NnSight.Benchmarks.LoadingBenchmark.ConvertOnce(folder);
        return;
    case ["analyzer-times", var rounds]:
        NnSight.Benchmarks.AnalyzerBenchmarks.AnalyzerTimes(Count(rounds));
        return;
    case ["side-by-side", var architecture, var rounds]:
        NnSight.Benchmarks.SideBySide.Run(architecture, Count(rounds), intelKernels: false);
        return;
    case ["side-by-side", var architecture, var rounds, "intel-kernels"]:
        NnSight.Benchmarks.SideBySide.Run(architecture, Count(rounds), intelKernels: true);
        return;
    case ["side-by-side-once", var architecture, var folder]:
        NnSight.Benchmarks.SideBySide.Once(architecture, folder);
        return;
    case ["attention", var rounds]:
        NnSight.Benchmarks.AttentionGain.Run(Count(rounds));
        return;
    case ["ops", var rounds]:
        NnSight.Benchmarks.OpProfile.Run(Count(rounds), defaultKernels: false);
        return;
    case ["ops", var rounds, "default-kernels"]:
        NnSight.Benchmarks.OpProfile.Run(Count(rounds), defaultKernels: true);
        return;
    case ["peak-memory", var rounds]:
        NnSight.Benchmarks.PeakMemory.Run(Count(rounds));
        return;
    case ["denormals"]:
        NnSight.Benchmarks.DenormalProbe.Run();
        return;
    case ["alternate", var rounds]:
        NnSight.Benchmarks.AlternatingRatios.Run(Count(rounds));
        return;
}

// In-process: the benchmarks load libtorch once, as the library's users do, and need no second build.
var config = DefaultConfig.Instance
    .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithIterationCount(40).WithWarmupCount(5))
    .WithOptions(ConfigOptions.DisableOptimizationsValidator);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);

static int Count(string text) => int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
