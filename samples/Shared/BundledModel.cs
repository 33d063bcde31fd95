namespace NnSight.Samples;

/// <summary>Finds the model folder a sample runs on: the first argument, or a bundled tiny model.</summary>
internal static class BundledModel
{
    /// <summary>The folder to load, announcing the bundled model's nature when it is the one used.</summary>
    public static string Folder(string[] args)
    {
        if (args.Length > 0)
        {
            return args[0];
        }
        var folder = Find("tiny-gpt2");
        Console.WriteLine($"""
            Using {folder}: a 4-layer GPT-2 with random weights and the real GPT-2 vocabulary, bundled so the sample runs
            offline. The mechanics are real; the words and numbers are not those of the original nnsight README. To run it
            on a real GPT-2: point the sample's [LanguageModel] attribute at "models/gpt2/config.json" (the published GPT-2
            config, bundled), and pass a hub id (downloaded into the HuggingFace cache once) or a HuggingFace folder:
                dotnet run --project samples/<Sample> -- openai-community/gpt2

            """);
        return folder;
    }

    /// <summary>The folder to load for a Llama-family sample: the first argument, or the bundled tiny Llama.</summary>
    public static string LlamaFolder(string[] args)
    {
        if (args.Length > 0)
        {
            return args[0];
        }
        var folder = Find("tiny-llama");
        Console.WriteLine($"""
            Using {folder}: a 4-layer Llama (width 64, 4 query and 2 key/value heads) with random weights and no tokenizer,
            bundled so the sample runs offline; it takes token ids. To run it on a real Llama, Mistral or Qwen2 folder, point
            the sample's [LanguageModel] attribute at that folder's config.json (an AdditionalFiles item) and
                dotnet run --project samples/LlamaInterventions -- path/to/model

            """);
        return folder;
    }

    private static string Find(string name)
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            {
                var candidate = Path.Combine(folder.FullName, "models", name);
                if (Directory.Exists(candidate))
                {
                    return Path.GetRelativePath(Environment.CurrentDirectory, candidate);
                }
            }
        }
        throw new DirectoryNotFoundException($"models/{name} was not found above {Environment.CurrentDirectory}; pass a model folder.");
    }
}
