using NnSight;
using NnSight.Models;
using NnSight.Samples;

// DESIGN §1.7: ad-hoc module calls, out of order: decode what every layer would predict (the logit lens).
using var model = LanguageModel.FromPretrained(BundledModel.Folder(args), device: "cpu");

var layers = model.Envoy("transformer.h");
var predictions = new List<TensorProxy>();
using (var tracer = model.Trace())
using (tracer.Invoke("The Eiffel Tower is in the city of"))
{
    for (var layer = 0; layer < layers.Count; layer++)
    {
        var logits = model.Envoy("lm_head").Call(model.Envoy("transformer.ln_f").Call(layers[layer].Output[0]));
        predictions.Add(logits.softmax(2).argmax(2).Save());
    }
}

var tokenizer = model.RequireTokenizer();
for (var layer = 0; layer < predictions.Count; layer++)
{
    var ids = predictions[layer].Value[0].data<long>().ToArray();
    Console.WriteLine($"Layer {layer}: {string.Join(" | ", ids.Select(id => tokenizer.Decode([id])))}");
}
