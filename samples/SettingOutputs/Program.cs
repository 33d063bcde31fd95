using NnSight;
using NnSight.Samples;
using TorchSharp;
using static TorchSharp.torch;

// Example 3 of nnsight's README, in C#: assignment replaces the value flowing through the model, for this invocation's rows only.
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");

TensorProxy before, after;
using (var tracer = model.Trace())
using (tracer.Invoke("The Eiffel Tower is in the city of"))
{
    var lastBlock = model.Transformer.H[^1];
    before = lastBlock.Output[0].clone().Save();
    var noise = Math.Sqrt(0.001) * randn(lastBlock.Output[0].shape);     // the shape is known before anything runs
    lastBlock.Output[0] = lastBlock.Output[0] + noise;
    after = lastBlock.Output[0].Save();
}

Console.WriteLine("Before:");
before.Value.print();
Console.WriteLine("After adding noise:");
after.Value.print();

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
