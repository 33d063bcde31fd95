using NnSight;
using NnSight.Samples;
using static TorchSharp.torch;

// Example 8 of nnsight's README, in C#: activation patching in one batched pass, with TorchSharp's index syntax for reading and assignment.
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");
var tokenizer = model.RequireTokenizer();
long mary = tokenizer.Encode(" Mary")[0], john = tokenizer.Encode(" John")[0];

TensorProxy patched, corrupted;
using (var tracer = model.Trace())
{
    TensorProxy clean;
    using (tracer.Invoke("When John and Mary went to the shops, John gave the bag to"))
    {
        clean = model.Transformer.H[2].Output[0];
    }
    using (tracer.Invoke("When John and Mary went to the shops, Mary gave the bag to"))
    {
        corrupted = model.LmHead.Output[.., ^1].Save();
    }
    using (tracer.Invoke("When John and Mary went to the shops, Mary gave the bag to"))
    {
        model.Transformer.H[2].Output[0][.., 13] = clean[.., 13];
        patched = model.LmHead.Output[.., ^1].Save();
    }
}

double Difference(Tensor logits) => (logits[0, mary] - logits[0, john]).item<float>();
Console.WriteLine($"logit(Mary) - logit(John), corrupted prompt:       {Difference(corrupted.Value):F6}");
Console.WriteLine($"logit(Mary) - logit(John), with layer 2 patched: {Difference(patched.Value):F6}");

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
