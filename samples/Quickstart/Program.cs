using NnSight;
using NnSight.Samples;

// Loads a GPT-2 folder (the bundled tiny one unless a folder is given), prints its module tree, and continues a prompt.
const string Prompt = "The Eiffel Tower is in the city of";
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");

Console.WriteLine(model);
Console.WriteLine();

using var result = model.GenerateIds([Prompt], new GenerationOptions { MaxNewTokens = 12 });
var tokenizer = model.RequireTokenizer();
Console.WriteLine($"Prompt:       {Prompt}");
Console.WriteLine($"Continuation: {tokenizer.Decode(result.Sequences[0])[Prompt.Length..]}");

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
