using NnSight;
using NnSight.Samples;
using static TorchSharp.torch;

// Steering a generation at every step: a session finds the direction from " love" to " hate" in the residual stream of
// layer 2 (one trace) and adds it at every generated token (a later generation trace, inside All()); the direction
// passes from the first trace to the second inside the run and is never returned.
const int Layer = 2, NewTokens = 8;
const string Prompt = "I think that you are";
using var model = Gpt2.FromPretrained(BundledModel.Folder(args), device: "cpu");
var tokenizer = model.RequireTokenizer();

GenerationTracer plain, steered;
TensorProxy perStep;
using (model.Session())
{
    TensorProxy direction;
    using (var tracer = model.Trace())
    {
        TensorProxy love;
        using (tracer.Invoke(" love"))
        {
            love = model.Transformer.H[Layer].Output[0][0, ^1];
        }
        using (tracer.Invoke(" hate"))
        {
            direction = (model.Transformer.H[Layer].Output[0][0, ^1] - love) * 4;
        }
    }
    using (plain = model.Generate(NewTokens))
    using (plain.Invoke(Prompt))
    {
    }
    using (steered = model.Generate(NewTokens))
    using (var invoker = steered.Invoke(Prompt))
    using (invoker.All())
    {
        model.Transformer.H[Layer].Output[0] = model.Transformer.H[Layer].Output[0] + direction;
        perStep = model.LmHead.Output[0, ^1].softmax(-1).max().Save();
    }
}

string Continuation(Tensor ids) => tokenizer.Decode(ids[0].data<long>().ToArray())[Prompt.Length..];
Console.WriteLine($"Prompt:   {Prompt}");
Console.WriteLine($"Plain:    {Continuation(plain.Output)}");
Console.WriteLine($"Steered:  {Continuation(steered.Output)}");
Console.WriteLine($"Steered, top probability at each step: {string.Join(", ", perStep.Values.Select(value => value.item<float>().ToString("G3", System.Globalization.CultureInfo.InvariantCulture)))}");

// The typed module tree is generated at compile time from this config.json (an AdditionalFiles item of the project).
[LanguageModel("models/tiny-gpt2/config.json")]
public partial class Gpt2;
