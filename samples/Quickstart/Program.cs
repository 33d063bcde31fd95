using NnSight.Models;
using NnSight.Models.Generation;

// Loads a GPT-2 folder (the bundled tiny one unless a folder is given), prints its module tree, and continues a prompt.
const string Prompt = "The Eiffel Tower is in the city of";
var bundled = args.Length == 0;
var folder = bundled ? FindBundledModel("tiny-gpt2") : args[0];

using var model = LanguageModel.FromPretrained(folder, device: "cpu");
if (bundled)
{
    Console.WriteLine($"""
        Loaded {folder}: a 4-layer GPT-2 with random weights and the real GPT-2 vocabulary, bundled so everything runs
        offline. Its continuations are gibberish; the mechanics are real. To use a real GPT-2, download a HuggingFace
        folder (config.json, generation_config.json, model.safetensors) and run:
            dotnet run --project samples/Quickstart -- path/to/gpt2

        """);
}

Console.WriteLine(model);
Console.WriteLine();

using var result = model.GenerateIds([Prompt], new GenerationOptions { MaxNewTokens = 12 });
var tokenizer = model.RequireTokenizer();
Console.WriteLine($"Prompt:       {Prompt}");
Console.WriteLine($"Continuation: {tokenizer.Decode(result.Sequences[0])[Prompt.Length..]}");

static string FindBundledModel(string name)
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
