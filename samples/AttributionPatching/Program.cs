using NnSight;
using NnSight.Plotting;
using NnSight.Samples;
using static TorchSharp.torch;

// Attribution patching: estimate, from two passes and the gradient, what patching every layer and position of the
// corrupted IOI prompt with the clean run's activation would do to the logit difference, and compare it with that
// activation-patching sweep (one patched run per layer and position).
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");
const string Clean = "When John and Mary went to the shops, John gave the bag to";
const string Corrupt = "When John and Mary went to the shops, Mary gave the bag to";
var tokenizer = model.RequireTokenizer();
long mary = tokenizer.Encode(" Mary")[0], john = tokenizer.Encode(" John")[0];
var layers = model.Transformer.H.Count;
TensorProxy LogitDifference()
{
    var last = model.LmHead.Output[0, ^1];
    return last[mary] - last[john];
}

// Pass 1: the clean activations of every layer.
var clean = new TensorProxy[layers];
using (var tracer = model.Trace())
using (tracer.Invoke(Clean))
{
    for (var layer = 0; layer < layers; layer++)
    {
        clean[layer] = model.Transformer.H[layer].Output[0].Save();
    }
}

// Pass 2: the corrupted activations and the gradient of the logit difference at every layer.
var corrupt = new TensorProxy[layers];
var gradients = new TensorProxy[layers];
TensorProxy corruptDifference;
using (var tracer = model.Trace())
using (tracer.Invoke(Corrupt))
{
    for (var layer = 0; layer < layers; layer++)
    {
        corrupt[layer] = model.Transformer.H[layer].Output[0].Save();
        gradients[layer] = model.Transformer.H[layer].Output[0].Grad.Save();
    }
    corruptDifference = LogitDifference().Save();
    corruptDifference.Backward();
}
var baseline = corruptDifference.Value.item<float>();

// The linear estimate of each patch: (clean − corrupt) · gradient, per position.
using var estimate = stack([.. Enumerable.Range(0, layers).Select(layer =>
    ((clean[layer].Value - corrupt[layer].Value) * gradients[layer].Value).sum(-1)[0])]);

// The sweep it approximates: one trace per layer, one invocation per patched position.
var positions = (int)clean[0].Value.shape[1];
using var patched = zeros(layers, positions);
foreach (var layer in ProgressBars.Track(Enumerable.Range(0, layers), "Activation-patching sweep"))
{
    var differences = new TensorProxy[positions];
    using (var tracer = model.Trace())
    {
        TensorProxy cleanValue;
        using (tracer.Invoke(Clean))
        {
            cleanValue = model.Transformer.H[layer].Output[0];
        }
        for (var position = 0; position < positions; position++)
        {
            using (tracer.Invoke(Corrupt))
            {
                model.Transformer.H[layer].Output[0][.., position] = cleanValue[.., position];
                differences[position] = LogitDifference().Save();
            }
        }
    }
    for (var position = 0; position < positions; position++)
    {
        patched[layer, position] = differences[position].Value.item<float>() - baseline;
    }
}

var tokens = tokenizer.Encode(Corrupt).Select(id => tokenizer.Decode([id]).Trim()).ToList();
Console.WriteLine($"logit(Mary) − logit(John) on the corrupted prompt: {baseline:F4}");
Print("Attribution patching (two passes): estimated change of the logit difference", estimate);
Print($"Activation patching ({layers * positions} patched runs): change of the logit difference", patched);
Console.WriteLine($"Correlation between the two: {Correlation(estimate, patched):F3}");

// The two side by side as figures, on one colour scale per figure, centred at zero.
string[] layerNames = [.. Enumerable.Range(0, layers).Select(layer => $"h.{layer}")];
Plot(estimate, "attribution-patching", "Attribution patching (estimate)");
Plot(patched, "attribution-patching-sweep", "Activation patching (the sweep it estimates)");

void Plot(Tensor table, string name, string title)
{
    using var figure = Plots.Heatmap(table, layerNames, tokens, new FigureOptions
    {
        Title = title,
        XLabel = "Position (corrupted prompt)",
        YLabel = "Layer",
        ColorLabel = "Δ logit difference",
    });
    SampleFigures.Save(figure, name);
}

void Print(string title, Tensor table)
{
    Console.WriteLine($"\n{title}");
    Console.WriteLine("layer " + string.Concat(tokens.Select(token => $"{(token.Length > 7 ? token[..7] : token),9}")));
    for (var layer = 0; layer < layers; layer++)
    {
        Console.WriteLine($"{layer,5} " + string.Concat(Enumerable.Range(0, positions).Select(position => $"{table[layer, position].item<float>(),9:F4}")));
    }
}

static double Correlation(Tensor first, Tensor second)
{
    using var scope = NewDisposeScope();
    var a = first.flatten().to_type(ScalarType.Float64);
    var b = second.flatten().to_type(ScalarType.Float64);
    a -= a.mean();
    b -= b.mean();
    return ((a * b).sum() / (a.norm() * b.norm())).item<double>();
}

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
