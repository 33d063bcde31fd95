using NnSight;
using NnSight.Plotting;
using NnSight.Samples;
using static TorchSharp.torch;

// Example 8 of nnsight's README, in C#: activation patching in one batched pass, with TorchSharp's index syntax for reading and assignment.
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");
const string Clean = "When John and Mary went to the shops, John gave the bag to";
const string Corrupt = "When John and Mary went to the shops, Mary gave the bag to";
var tokenizer = model.RequireTokenizer();
long mary = tokenizer.Encode(" Mary")[0], john = tokenizer.Encode(" John")[0];

TensorProxy patched, corrupted;
using (var tracer = model.Trace())
{
    TensorProxy clean;
    using (tracer.Invoke(Clean))
    {
        clean = model.Transformer.H[2].Output[0];
    }
    using (tracer.Invoke(Corrupt))
    {
        corrupted = model.LmHead.Output[.., ^1].Save();
    }
    using (tracer.Invoke(Corrupt))
    {
        model.Transformer.H[2].Output[0][.., 13] = clean[.., 13];
        patched = model.LmHead.Output[.., ^1].Save();
    }
}

double Difference(Tensor logits) => (logits[0, mary] - logits[0, john]).item<float>();
var baseline = Difference(corrupted.Value);
Console.WriteLine($"logit(Mary) - logit(John), corrupted prompt:       {baseline:F6}");
Console.WriteLine($"logit(Mary) - logit(John), with layer 2 patched: {Difference(patched.Value):F6}");

// The sweep nnsight's patching tutorial plots: every layer and position, one trace per layer whose invocations each
// patch one position of the corrupted prompt with the clean run's value.
var layers = model.Transformer.H.Count;
var positions = tokenizer.Encode(Corrupt).Length;
using var sweep = zeros(layers, positions);
foreach (var layer in ProgressBars.Track(Enumerable.Range(0, layers), "Patching every layer and position"))
{
    var differences = new TensorProxy[positions];
    using (var tracer = model.Trace())
    {
        TensorProxy clean;
        using (tracer.Invoke(Clean))
        {
            clean = model.Transformer.H[layer].Output[0];
        }
        for (var position = 0; position < positions; position++)
        {
            using (tracer.Invoke(Corrupt))
            {
                model.Transformer.H[layer].Output[0][.., position] = clean[.., position];
                var last = model.LmHead.Output[0, ^1];
                differences[position] = (last[mary] - last[john]).Save();
            }
        }
    }
    for (var position = 0; position < positions; position++)
    {
        sweep[layer, position] = differences[position].Value.item<float>() - baseline;
    }
}

using var figure = Plots.Heatmap(sweep,
    [.. Enumerable.Range(0, layers).Select(layer => $"h.{layer}")],
    [.. tokenizer.Encode(Corrupt).Select(id => tokenizer.Decode([id]))],
    new FigureOptions
    {
        Title = "Activation patching: change of logit(Mary) − logit(John)",
        XLabel = "Patched position (corrupted prompt)",
        YLabel = "Layer",
        ColorLabel = "Δ logit difference",
    });
SampleFigures.Save(figure, "activation-patching");

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
