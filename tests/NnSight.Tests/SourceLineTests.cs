using System.Runtime.CompilerServices;
using NnSight.Models;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary>
/// Every node carries the line of the statement that made it, also where C# gives no caller information: module values
/// read and set through properties, operators, and the <c>params</c> shape methods.
/// </summary>
public sealed class SourceLineTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private static string Eiffel => ReferenceIndex.Gpt2.Prompts["eiffel"].Text;
    private readonly LanguageModel _model = fixture.Model;

    [Fact]
    public void Property_operator_and_shape_nodes_carry_their_own_statement_line()
    {
        var lines = new List<(string What, TensorProxy Proxy, int Line)>();
        using var tracer = _model.Trace();
        using (tracer.Invoke(Eiffel))
        {
            var head = _model.Envoy("lm_head");
            var block = _model.Envoy("transformer.h")[1];
            var logits = head.Output; lines.Add(("Output", logits, Line()));
            var input = block.Input; lines.Add(("Input", input, Line()));
            var inputs = block.Inputs; lines.Add(("Inputs", inputs, Line()));
            var doubled = logits * 2; lines.Add(("operator *", doubled, Line()));
            var negated = -logits; lines.Add(("unary -", negated, Line()));
            using var one = ones(1);
            var shifted = one + logits; lines.Add(("tensor + proxy", shifted, Line()));
            var reshaped = logits.reshape(10, -1); lines.Add(("reshape", reshaped, Line()));
            var viewed = logits.view(-1); lines.Add(("view", viewed, Line()));
            var permuted = logits.permute(2, 1, 0); lines.Add(("permute", permuted, Line()));
            var expanded = logits[.., ^1].expand(3, -1); lines.Add(("expand", expanded, Line()));
            var (values, indices) = logits.topk(3); lines.Add(("deconstructed values", values, Line())); lines.Add(("deconstructed indices", indices, Line()));
            var sliced = logits[0]; lines.Add(("indexer", sliced, Line()));
        }

        foreach (var (what, proxy, line) in lines)
        {
            Assert.True(proxy.Node.Source is { } source && source.Line == line && source.File.EndsWith(nameof(SourceLineTests) + ".cs", StringComparison.Ordinal),
                $"{what}: recorded at {proxy.Node.Source?.ToString() ?? "no location"}, made on line {line}");
        }
    }

    [Fact]
    public void A_set_through_a_property_fails_at_run_time_naming_its_own_line()
    {
        var line = 0;
        var tracer = _model.Trace();
        using (tracer.Invoke(Eiffel))
        {
            var first = _model.Envoy("transformer.h")[0];
            var wrong = first.Output[0][.., ..5];
            _model.Envoy("transformer.h")[2].Output = wrong; line = Line();
        }

        var error = Assert.Throws<ShapeMismatchException>(tracer.Dispose);

        Assert.StartsWith($"{nameof(SourceLineTests)}.cs:{line}: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_module_step_never_reached_names_the_line_of_its_property_read()
    {
        var line = 0;
        var generator = _model.Generate(maxNewTokens: 1);
        using (var invoker = generator.Invoke(Eiffel))
        {
            var head = _model.Envoy("lm_head");
            invoker.Next();
            head.Output.Save(); line = Line();
        }

        var error = Assert.Throws<ModuleNotCalledException>(generator.Dispose);

        Assert.StartsWith($"{nameof(SourceLineTests)}.cs:{line}: ", error.Message, StringComparison.Ordinal);
    }

    private static int Line([CallerLineNumber] int line = 0) => line;
}
