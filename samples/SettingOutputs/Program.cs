using NnSight;
using NnSight.Models;
using NnSight.Samples;
using TorchSharp;
using static TorchSharp.torch;

// DESIGN §1.3: assignment replaces the value flowing through the model, for this invocation's rows only.
using var model = LanguageModel.FromPretrained(BundledModel.Folder(args), device: "cpu");

TensorProxy before, after;
using (var tracer = model.Trace())
using (tracer.Invoke("The Eiffel Tower is in the city of"))
{
    var lastBlock = model.Envoy("transformer.h")[^1];
    before = lastBlock.Output[0].clone().Save();
    var noise = Math.Sqrt(0.001) * randn(lastBlock.Output[0].shape);     // the shape is known before anything runs
    lastBlock.Output[0] = lastBlock.Output[0] + noise;
    after = lastBlock.Output[0].Save();
}

Console.WriteLine("Before:");
before.Value.print();
Console.WriteLine("After adding noise:");
after.Value.print();
