namespace NnSight.TestSupport;

/// <summary>Paths inside the repository, found from the test assembly's folder upwards.</summary>
public static class RepositoryPaths
{
    private const string SolutionFile = "NnSight.Generators.sln";

    /// <summary>The repository root (the folder holding the solution).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The bundled tiny GPT-2 checkpoint.</summary>
    public static string TinyGpt2 => Path.Combine(Root, "models", "tiny-gpt2");

    /// <summary>The bundled tiny Llama checkpoint (grouped-query attention, no biases).</summary>
    public static string TinyLlama => Path.Combine(Root, "models", "tiny-llama");

    /// <summary>The bundled tiny Llama with q/k/v/o biases.</summary>
    public static string TinyLlamaBias => Path.Combine(Root, "models", "tiny-llama-bias");

    /// <summary>The HuggingFace reference outputs for the tiny Llamas.</summary>
    public static string LlamaReference => Path.Combine(Root, "tests", "fixtures", "reference", "llama");

    /// <summary>The HuggingFace reference outputs for GPT-2.</summary>
    public static string Gpt2Reference => Path.Combine(Root, "tests", "fixtures", "reference");

    /// <summary>The real config.json files of published models.</summary>
    public static string Configs => Path.Combine(Root, "tests", "NnSight.Generators.Tests", "Configs");

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, SolutionFile)))
            {
                return folder.FullName;
            }
        }
        throw new DirectoryNotFoundException($"No {SolutionFile} above {AppContext.BaseDirectory}.");
    }
}
