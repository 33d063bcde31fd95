using NnSight;
using NnSight.Samples;
using TorchSharp;

// Example 1 of nnsight's README, in C#: save a hidden state while generating. Nothing runs inside the blocks; disposing the context runs the model.
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");
Console.WriteLine(model);

var generator = model.Generate(maxNewTokens: 1);
TensorProxy hidden;
using (generator)
{
    using (generator.Invoke("The Eiffel Tower is in the city of"))
    {
        hidden = model.Transformer.H[^1].Output[0].Save();
    }
}

using var tokens = generator.Output;
Console.WriteLine($"Tokens: {model.RequireTokenizer().Decode(tokens[0])}");
Console.WriteLine("transformer.h[-1].output[0]:");
hidden.Value.print();

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
