using NnSight;
using NnSight.Samples;
using TorchSharp;

// Example 4 of nnsight's README, in C#: Next() moves the accesses that follow to the module's next forward pass (the next generated token).
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");

var steps = new List<TensorProxy>();
var gen = model.Generate(maxNewTokens: 3);
using (gen)
using (var invoker = gen.Invoke("The Eiffel Tower is in the city of"))
{
    for (var step = 0; step < 3; step++)
    {
        steps.Add(model.Transformer.H[^1].Output[0].Save());
        if (step < 2)
        {
            invoker.Next();
        }
    }
}

using var tokens = gen.Output;
Console.WriteLine($"Generated: {model.RequireTokenizer().Decode(tokens[0])}");
for (var step = 0; step < steps.Count; step++)
{
    Console.WriteLine($"Step {step}: transformer.h[-1].output[0] has shape [{string.Join(", ", steps[step].Value.shape)}]");
    steps[step].Value.print();
}

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
