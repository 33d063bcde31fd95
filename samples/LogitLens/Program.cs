using NnSight;
using NnSight.Samples;

// Example 7 of nnsight's README, in C#: ad-hoc module calls, out of order: decode what every layer would predict (the logit lens).
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");

var layers = model.Transformer.H;
var predictions = new List<TensorProxy>();
using (var tracer = model.Trace())
using (tracer.Invoke("The Eiffel Tower is in the city of"))
{
    for (var layer = 0; layer < layers.Count; layer++)
    {
        var logits = model.LmHead.Call(model.Transformer.LnF.Call(layers[layer].Output[0]));
        predictions.Add(logits.softmax(2).argmax(2).Save());
    }
}

var tokenizer = model.RequireTokenizer();
for (var layer = 0; layer < predictions.Count; layer++)
{
    var ids = predictions[layer].Value[0].data<long>().ToArray();
    Console.WriteLine($"Layer {layer}: {string.Join(" | ", ids.Select(id => tokenizer.Decode([id])))}");
}

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
