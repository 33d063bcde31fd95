using NnSight;
using NnSight.Models;
using NnSight.Samples;

// Loads a GPT-2 folder (the bundled tiny one unless a folder is given), prints its module tree, and continues a prompt.
const string Prompt = "The Eiffel Tower is in the city of";
using var model = LanguageModel.FromPretrained(BundledModel.Folder(args), device: "cpu");

Console.WriteLine(model);
Console.WriteLine();

using var result = model.GenerateIds([Prompt], new GenerationOptions { MaxNewTokens = 12 });
var tokenizer = model.RequireTokenizer();
Console.WriteLine($"Prompt:       {Prompt}");
Console.WriteLine($"Continuation: {tokenizer.Decode(result.Sequences[0])[Prompt.Length..]}");
