using NnSight;
using NnSight.Samples;
using TorchSharp;

// Example 2 of nnsight's README, in C#: operations on proxies keep TorchSharp's names and run during the forward pass.
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");

TensorProxy pre, sum, edited;
using (var tracer = model.Trace())
using (tracer.Invoke("The Eiffel Tower is in the city of"))
{
    pre = model.Transformer.H[^1].Output[0].Save();
    sum = pre.sum().Save();
    edited = (pre + sum).Save();
}

Console.WriteLine("Hidden state:");
pre.Value.print();
Console.WriteLine($"Its sum: {sum.Value.item<float>()}");
Console.WriteLine("Hidden state + sum:");
edited.Value.print();

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
