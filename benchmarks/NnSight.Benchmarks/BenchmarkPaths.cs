namespace NnSight.Benchmarks;

/// <summary>Where the benchmarks find the repository's files.</summary>
internal static class BenchmarkPaths
{
    /// <summary>The repository root: the folder above the running program that holds the solution.</summary>
    public static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "NnSight.Generators.sln")))
            {
                return folder.FullName;
            }
        }
        throw new InvalidOperationException("Run from inside the repository.");
    }

    /// <summary>How to start this program again with <paramref name="arguments"/>, its standard output redirected: through
    /// its apphost, or through <c>dotnet</c> and the assembly when it was started that way.</summary>
    public static System.Diagnostics.ProcessStartInfo Self(params string[] arguments)
    {
        string[] assembly = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? [typeof(BenchmarkPaths).Assembly.Location] : [];
        return new System.Diagnostics.ProcessStartInfo(Environment.ProcessPath!, [.. assembly, .. arguments]) { RedirectStandardOutput = true };
    }

    /// <summary>Runs <paramref name="start"/> to its end and returns what it printed; throws, with that, if it failed.</summary>
    public static string Output(System.Diagnostics.ProcessStartInfo start)
    {
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0
            ? output
            : throw new InvalidOperationException($"{start.FileName} {string.Join(' ', start.ArgumentList)} failed:\n{output}");
    }
}
