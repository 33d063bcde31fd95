using NnSight;
using NnSight.Plotting;
using static TorchSharp.torch;

// A study of a language model's internals with NnSight. Run it with `dotnet run`, or `dotnet run -- <hub id or folder>`
// to load other weights of the same architecture (a real GPT-2: openai-community/gpt2, with the project's config.json
// replaced by the published one). Results go to standard output; progress, when it lasts, to standard error.
//#if (cuda)
const string Device = "cuda";
//#else
const string Device = "cpu";
//#endif
using var model = StudyModel.FromPretrained(args.Length > 0 ? args[0] : ModelFolder("tiny-gpt2"), device: Device);
var tokenizer = model.RequireTokenizer();
string Decode(long id) => tokenizer.Decode([id]);
var layers = model.Transformer.H;
Console.WriteLine($"Loaded a {layers.Count}-layer {model.Config.ModelType} with a vocabulary of {model.Config.VocabSize}.");

// Recipe 1, the logit lens: decode every layer's hidden states with the final norm and the unembedding, save each
// layer's next-token probabilities, and plot the top token and its probability per layer and position.
const string Prompt = "The Eiffel Tower is in the city of";
var lens = new List<TensorProxy>();
using (var tracer = model.Trace())
using (tracer.Invoke(Prompt))
{
    for (var layer = 0; layer < layers.Count; layer++)
    {
        lens.Add(model.LmHead.Call(model.Transformer.LnF.Call(layers[layer].Output[0])).softmax(-1).Save());
    }
}
using var probabilities = stack([.. lens.Select(layer => layer.Value)]);        // [layers, 1, positions, vocab]
using (var figure = Plots.LogitLens(probabilities, Decode, [.. tokenizer.Encode(Prompt).Select(id => Decode(id))],
    new FigureOptions { Title = "Logit lens: the top next token at every layer" }))
{
    Console.WriteLine($"Logit lens: the last layer predicts \"{Decode(probabilities[^1, 0, ^1].argmax().item<long>())}\"; figure {figure.SavePng("logit-lens.png")} (and logit-lens.svg)");
    figure.SaveSvg("logit-lens.svg");
}

// Recipe 2, activation patching: run the corrupted prompt with one layer's output at the name's position taken from
// the clean prompt, and see how much of the logit difference it restores.
const string Clean = "When John and Mary went to the shops, John gave the bag to";
const string Corrupt = "When John and Mary went to the shops, Mary gave the bag to";
long mary = tokenizer.Encode(" Mary")[0], john = tokenizer.Encode(" John")[0];
var position = tokenizer.Encode(Clean).Zip(tokenizer.Encode(Corrupt)).TakeWhile(pair => pair.First == pair.Second).Count();
TensorProxy corrupted;
using (var tracer = model.Trace())
using (tracer.Invoke(Corrupt))
{
    corrupted = (model.LmHead.Output[0, ^1, mary] - model.LmHead.Output[0, ^1, john]).Save();
}
var differences = new TensorProxy[layers.Count];
foreach (var layer in ProgressBars.Track(Enumerable.Range(0, layers.Count), "Patching layers"))
{
    using var tracer = model.Trace();
    TensorProxy clean;
    using (tracer.Invoke(Clean))
    {
        clean = layers[layer].Output[0];
    }
    using (tracer.Invoke(Corrupt))
    {
        layers[layer].Output[0][.., position] = clean[.., position];
        differences[layer] = (model.LmHead.Output[0, ^1, mary] - model.LmHead.Output[0, ^1, john]).Save();
    }
}
Console.WriteLine($"Patching: logit(Mary) - logit(John) on the corrupted prompt is {corrupted.Value.item<float>():F4}");
for (var layer = 0; layer < layers.Count; layer++)
{
    Console.WriteLine($"Patching: layer {layer} at position {position} from the clean prompt gives {differences[layer].Value.item<float>():F4}");
}

// Recipe 3, steering: add the direction from " love" to " hate" in one layer's residual stream at every generated token.
const int SteeredLayer = 1, NewTokens = 8;
const string Opening = "I think that you are";
TensorProxy love, hate;
using (var tracer = model.Trace())
{
    using (tracer.Invoke(" love"))
    {
        love = layers[SteeredLayer].Output[0][0, ^1].Save();
    }
    using (tracer.Invoke(" hate"))
    {
        hate = layers[SteeredLayer].Output[0][0, ^1].Save();
    }
}
using var direction = (hate.Value - love.Value) * 4;
GenerationTracer plain, steered;
using (plain = model.Generate(NewTokens))
using (plain.Invoke(Opening))
{
}
using (steered = model.Generate(NewTokens))
using (var invoker = steered.Invoke(Opening))
using (invoker.All())
{
    layers[SteeredLayer].Output[0] = layers[SteeredLayer].Output[0] + direction;
}
string Continuation(Tensor ids) => tokenizer.Decode(ids[0].data<long>().ToArray())[Opening.Length..];
Console.WriteLine($"Steering: plain   \"{Opening}|{Continuation(plain.Output)}\"");
Console.WriteLine($"Steering: steered \"{Opening}|{Continuation(steered.Output)}\"");

// The model's folder: as given, or beside the program (the bundled model is copied to the output folder).
static string ModelFolder(string folder) => Directory.Exists(folder) ? folder : Path.Combine(AppContext.BaseDirectory, folder);

/// <summary>The model, typed at compile time from its config.json (an AdditionalFiles item of the project).</summary>
[LanguageModel("tiny-gpt2/config.json")]
public partial class StudyModel;
