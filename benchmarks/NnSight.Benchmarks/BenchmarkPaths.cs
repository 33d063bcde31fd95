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
}
