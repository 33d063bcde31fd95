using NnSight;
using NnSight.Samples;

// Example 6 of nnsight's README, in C#: a value from invocation 1 used in invocation 2 of the same batch.
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");

var swap = model.Generate(maxNewTokens: 3);
using (swap)
{
    TensorProxy embeddings;
    using (swap.Invoke("Madison square garden is located in the city of New"))
    {
        embeddings = model.Transformer.Wte.Output;
    }
    using (swap.Invoke("_ _ _ _ _ _ _ _ _ _"))
    {
        model.Transformer.Wte.Output = embeddings;
    }
}

using var tokens = swap.Output;
var tokenizer = model.RequireTokenizer();
Console.WriteLine($"Invocation 1: {tokenizer.Decode(tokens[0])}");
Console.WriteLine($"Invocation 2: {tokenizer.Decode(tokens[1])}");
Console.WriteLine("(On a real GPT-2, invocation 2 continues \"_ _ _ _ _ _ _ _ _ _ York City.\".)");

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
