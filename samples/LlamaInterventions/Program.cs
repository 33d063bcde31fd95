using NnSight;
using NnSight.Samples;
using static TorchSharp.torch;

// The examples of nnsight's README on a Llama: the typed tree, saving inside generation, attention probabilities, the logit lens
// and patching, with token ids (the bundled tiny Llama has no tokenizer).
using var model = TinyLlama.FromPretrained(BundledModel.LlamaFolder(args), device: "cpu");
Console.WriteLine(model);
Console.WriteLine();

long[] prompt = [366, 95, 138, 5, 366, 6, 345, 458, 98, 61];
long[] corrupted = [366, 95, 138, 5, 366, 7, 345, 458, 98, 61];

// Save the last layer's residual stream at each of three generation steps, and the first layer's attention.
TensorProxy step0, step1, step2, attention;
var generator = model.Generate(maxNewTokens: 3);
using (generator)
using (var invoker = generator.Invoke(prompt))
{
    step0 = model.Model.Layers[^1].Output.HiddenStates.Save();
    attention = model.Model.Layers[0].SelfAttn.Output.Weights.Save();
    invoker.Next();
    step1 = model.Model.Layers[^1].Output.HiddenStates.Save();
    invoker.Next();
    step2 = model.Model.Layers[^1].Output.HiddenStates.Save();
}
Console.WriteLine($"Generated ids: {string.Join(", ", generator.Output[0].data<long>().ToArray()[prompt.Length..])}");
Console.WriteLine($"Hidden states per step: [{string.Join(", ", step0.Value.shape)}], [{string.Join(", ", step1.Value.shape)}], [{string.Join(", ", step2.Value.shape)}]");
using (var lastRow = attention.Value[0, .., -1])
{
    Console.WriteLine("Layer 0, last position: where each of the 4 heads attends most: " +
        string.Join(", ", lastRow.argmax(-1).data<long>().ToArray()));
}

// The logit lens: every layer's residual stream read through the final norm and the head.
var lens = new List<TensorProxy>();
using (var tracer = model.Trace())
using (tracer.Invoke(prompt))
{
    for (var layer = 0; layer < model.Model.Layers.Count; layer++)
    {
        var residual = model.Model.Layers[layer].Output.HiddenStates;
        lens.Add(model.LmHead.Call(model.Model.Norm.Call(residual))[.., ^1].argmax(-1).Save());
    }
}
Console.WriteLine("Logit lens, next-token guess after each layer: " + string.Join(", ", lens.Select(guess => guess.Value.item<long>())));

// Patching: run the corrupted prompt with layer 1's residual stream from the clean prompt from the changed position on.
TensorProxy cleanLogits, patchedLogits;
using (var tracer = model.Trace())
{
    TensorProxy clean;
    using (tracer.Invoke(prompt))
    {
        clean = model.Model.Layers[1].Output.HiddenStates;
        cleanLogits = model.LmHead.Output[.., ^1].Save();
    }
    using (tracer.Invoke(corrupted))
    {
        model.Model.Layers[1].Output.HiddenStates[.., 5..] = clean[.., 5..];
        patchedLogits = model.LmHead.Output[.., ^1].Save();
    }
}
using var difference = (cleanLogits.Value - patchedLogits.Value).abs().max();
Console.WriteLine($"Largest logit difference between the clean run and the patched corrupted run: {difference.item<float>():G3}");

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-llama/config.json")]
public partial class TinyLlama;
