using NnSight;
using NnSight.Samples;
using static TorchSharp.torch;

// One cached forward pass, then analysis in plain TorchSharp: the logit lens over every layer's cached residual stream,
// the attention each head pays to the first token; then Stop() to read the embeddings without running the rest of the
// model, and Skip() to see what the last prediction becomes without layer 1.
const string Prompt = "The Eiffel Tower is in the city of";
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");
var tokenizer = model.RequireTokenizer();
var layers = model.Transformer.H;

ActivationCache cache;
var cached = model.Trace();
using (cached)
using (cached.Invoke(Prompt))
{
    cache = cached.Cache(model.Transformer);
}

// The lens: ln_f and lm_head applied, outside any trace, to what the cache holds for each layer.
var finalNorm = (nn.Module<Tensor, Tensor>)model.Transformer.LnF.Module;
var head = (nn.Module<Tensor, Tensor>)model.LmHead.Module;
using (cache)
using (no_grad())
{
    for (var layer = 0; layer < layers.Count; layer++)
    {
        using var lens = head.call(finalNorm.call(cache[layers[layer]].Output[0])).argmax(-1);
        Console.WriteLine($"Layer {layer} predicts: {string.Join(" |", lens[0].data<long>().ToArray().Select(id => tokenizer.Decode([id])))}");
        using var toFirst = cache[layers[layer].Attn.AttnDropout].Output.Tensor[0, .., ^1, 0];
        Console.WriteLine($"         attention of the last token to the first, per head: {string.Join(", ", toFirst.data<float>().ToArray().Select(share => share.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}");
    }
}

// Stop(): the run ends once the embeddings are read; no block runs.
TensorProxy embeddings;
using (var tracer = model.Trace())
using (tracer.Invoke(Prompt))
{
    embeddings = (model.Transformer.Wte.Output + model.Transformer.Wpe.Output).Save();
    tracer.Stop();
}
Console.WriteLine($"Embeddings (token + position): {string.Join("x", embeddings.Value.shape)}");

// Skip(): layer 1's output becomes layer 0's, so layer 1 contributes nothing.
var skipping = model.Trace();
using (skipping)
using (skipping.Invoke(Prompt))
{
    layers[1].Skip(layers[0].Output);
}
Console.WriteLine($"Next token:             {tokenizer.Decode([cached.Output[0, ^1].argmax().item<long>()])}");
Console.WriteLine($"Next token, no layer 1: {tokenizer.Decode([skipping.Output[0, ^1].argmax().item<long>()])}");

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
