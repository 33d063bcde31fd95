using NnSight;
using NnSight.Plotting;
using NnSight.Samples;
using static TorchSharp.torch;

// Example 7 of nnsight's README, in C#: ad-hoc module calls, out of order: decode what every layer would predict (the logit lens).
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");
const string Prompt = "The Eiffel Tower is in the city of";

var layers = model.Transformer.H;
var probabilities = new List<TensorProxy>();
using (var tracer = model.Trace())
using (tracer.Invoke(Prompt))
{
    for (var layer = 0; layer < layers.Count; layer++)
    {
        var logits = model.LmHead.Call(model.Transformer.LnF.Call(layers[layer].Output[0]));
        probabilities.Add(logits.softmax(2).Save());
    }
}

var tokenizer = model.RequireTokenizer();
string Decode(long id) => tokenizer.Decode([id]);
for (var layer = 0; layer < probabilities.Count; layer++)
{
    var ids = probabilities[layer].Value[0].argmax(-1).data<long>().ToArray();
    Console.WriteLine($"Layer {layer}: {string.Join(" | ", ids.Select(Decode))}");
}

// The figure nnsight's logit-lens tutorial draws: layers × positions, each cell the top token and its probability.
using var lens = stack([.. probabilities.Select(layer => layer.Value)]);      // [layers, 1, positions, vocab]
using var figure = Plots.LogitLens(lens, Decode, [.. tokenizer.Encode(Prompt).Select(id => Decode(id))],
    new FigureOptions { Title = "Logit lens: the top next token at every layer" });
SampleFigures.Save(figure, "logit-lens");

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
