using NnSight;
using NnSight.Samples;
using TorchSharp;

// Example 5 of nnsight's README, in C#: Token[0] is this prompt's first real token and Token[^1] its last, whatever the left padding.
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");

TensorProxy first, last;
using (var tracer = model.Trace())
{
    using (tracer.Invoke("When John and Mary went to the shops, John gave the bag to"))
    {
    }
    using (tracer.Invoke("The Eiffel Tower is in the city of"))
    {
        first = model.Transformer.H[^1].Output[0].Token[0].Save();
        last = model.Transformer.H[^1].Output[0].Token[^1].Save();
    }
}

Console.WriteLine("The Eiffel prompt is left-padded by 4 tokens in this batch; Token[...] skips the padding.");
Console.WriteLine("Hidden state at its first token (\"The\"):");
first.Value.print();
Console.WriteLine("Hidden state at its last token (\" of\"):");
last.Value.print();

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
