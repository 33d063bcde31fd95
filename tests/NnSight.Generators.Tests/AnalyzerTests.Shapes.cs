using Microsoft.CodeAnalysis.Testing;
using NnSight.Generators.Analyzers;

namespace NnSight.Generators.Tests;

/// <summary>NNS0111, the shape rule: each kind of mistake, the messages, and what it must leave alone.</summary>
public sealed partial class AnalyzerTests
{
    private const string ShapeHeader = Header + """
        using (var tracer = model.Trace())
        using (tracer.Invoke("The Eiffel Tower is in the city of"))
        {

        """;

    [Fact]
    public Task NNS0111_a_value_of_another_width_set_into_a_module_value() =>
        AnalyzerVerifier.VerifyAsync<ShapeMismatchAnalyzer>(ShapeHeader + """
                {|NNS0111:model.Transformer.H[2].Output[0] = model.Transformer.H[3].Attn.CAttn.Output|};
                {|NNS0111:model.Transformer.H[2].Mlp.Output = model.Transformer.H[2].Mlp.CFc.Output|};
                {|NNS0111:model.Transformer.H[2].Output.HiddenStates = model.LmHead.Output|};
                {|NNS0111:model.Transformer.H[0].Mlp.CProj.Input = model.Transformer.H[0].Output[0]|};
                {|NNS0111:model.Transformer.H[4].Output[0] += model.Transformer.H[4].Mlp.CFc.Output|};
                {|NNS0111:model.Transformer.H[4].Output[0][.., ^1] = model.LmHead.Output[.., ^1]|};
                model.Transformer.H[2].Output[0] = model.Transformer.H[1].Output[0];
                model.Transformer.H[2].Output.HiddenStates = model.Transformer.H[1].Attn.Output[0] * 0.5;
                model.Transformer.H[0].Mlp.CProj.Input = model.Transformer.H[0].Mlp.Act.Output;
                model.Transformer.H[3].Output[0][.., 4] = model.Transformer.H[1].Output[0][.., 4];
                model.Transformer.H[3].Output[0][.., 4] = 0;
                model.Transformer.H[3].Output[0].Grad = model.Transformer.H[3].Output[0].Grad * 0.5;
                model.Transformer.H[5].Output = model.Transformer.H[4].Output;
            }
            """);

    [Fact]
    public Task NNS0111_the_wrong_tuple_element_or_a_whole_tuple_where_a_tensor_belongs() =>
        AnalyzerVerifier.VerifyAsync<ShapeMismatchAnalyzer>(ShapeHeader + """
                {|NNS0111:model.Transformer.H[2].Output[0] = model.Transformer.H[3].Output[1]|};
                {|NNS0111:model.Transformer.H[2].Output[0] = model.Transformer.H[3].Attn.Output|};
                {|NNS0111:model.Transformer.H[2].Output.HiddenStates = model.Transformer.H[3].Output.Present|};
                var third = {|NNS0111:model.Transformer.H[0].Output[2]|};
                var scaled = {|NNS0111:(TensorProxy)model.Transformer.H[0].Output * 2|};
                var indexed = {|NNS0111:((TensorProxy)model.Transformer.H[0].Attn.Output)[.., ^1]|};
                {|NNS0111:model.Transformer.H[1].Skip(model.Transformer.H[0].Output[0])|};
                {|NNS0111:model.Transformer.H[1].Mlp.Skip(model.Transformer.H[1].Mlp.CFc.Output)|};
                model.Transformer.H[2].Skip(model.Transformer.H[1].Output);
                var last = model.Transformer.H[0].Output[^1][0];
                var present = model.Transformer.H[0].Output.Present[1];
                var cache = model.Transformer.Output.PastKeyValues[11][0];
                var pastCache = {|NNS0111:model.Transformer.Output.PastKeyValues[12]|};
            }
            """);

    [Fact]
    public Task NNS0111_indices_past_a_dimension_or_more_indices_than_dimensions() =>
        AnalyzerVerifier.VerifyAsync<ShapeMismatchAnalyzer>(ShapeHeader + """
                var hidden = model.Transformer.H[0].Output[0];
                var tooMany = {|NNS0111:model.LmHead.Output[0, ^1, 5, 0]|};
                var past = {|NNS0111:hidden[.., .., 768]|};
                var beforeStart = {|NNS0111:hidden[.., .., ^769]|};
                var vocabulary = {|NNS0111:model.LmHead.Output[0, ^1, 50257]|};
                var lastWidth = hidden[.., .., 767];
                var firstFromEnd = hidden[.., .., ^768];
                var row = hidden[5];
                var position = hidden[.., 40];
                var logit = model.LmHead.Output[0, ^1, 50256];
                var slice = hidden[.., ^3.., 700..800];
                var sliced = {|NNS0111:slice[.., .., 68]|};
                var newAxis = hidden[TorchSharp.torch.TensorIndex.None, .., 3];
                var sum = {|NNS0111:hidden.sum(3)|};
                var softmax = model.LmHead.Output.softmax(-1);
                var badSoftmax = {|NNS0111:model.LmHead.Output.softmax(-4)|};
                var lastToken = hidden.Token[^1];
                var firstTokens = hidden.Token[..3];
                var scores = lastToken.sum(-1);
                var tokenOfScores = {|NNS0111:scores.Token[0]|};
                var narrowed = {|NNS0111:hidden.narrow(2, 700, 100)|};
                var top = {|NNS0111:hidden.topk(1000)|};
                var topLogits = model.LmHead.Output.topk(5);
            }
            """);

    [Fact]
    public Task NNS0111_matmul_of_inner_sizes_that_differ() =>
        AnalyzerVerifier.VerifyAsync<ShapeMismatchAnalyzer>(ShapeHeader + """
                var hidden = model.Transformer.LnF.Output;
                var logits = model.LmHead.Output;
                var crossed = {|NNS0111:hidden.matmul(logits.transpose(1, 2))|};
                var attention = hidden.matmul(hidden.transpose(1, 2));
                var projected = {|NNS0111:model.Transformer.H[0].Mlp.CFc.Output.matmul(model.Transformer.H[0].Attn.CAttn.Output.transpose(-1, -2))|};
                var sameLength = hidden.matmul(logits);
                var dot = hidden[0, ^1].matmul(hidden[0, ^1]);
                var vector = {|NNS0111:hidden[0, ^1].matmul(logits[0, ^1])|};
            }
            """);

    [Fact]
    public Task NNS0111_Call_checks_the_width_a_module_takes_and_knows_its_output() =>
        AnalyzerVerifier.VerifyAsync<ShapeMismatchAnalyzer>(ShapeHeader + """
                var lens = {|NNS0111:model.LmHead.Call(model.Transformer.H[5].Mlp.CFc.Output)|};
                var logits = model.LmHead.Call(model.Transformer.LnF.Call(model.Transformer.H[5].Output[0]));
                var lastToken = model.LmHead.Call(model.Transformer.H[5].Output[0][.., ^1]);
                var activated = model.Transformer.H[5].Mlp.Act.Call(model.Transformer.H[5].Output[0]);
                var block = model.Transformer.H[6].Call(model.Transformer.H[5].Output[0][.., ..4]);
                var mixed = {|NNS0111:lastToken + model.Transformer.H[0].Output[0][.., ^1]|};
                var blockOutput = block[0] + model.Transformer.H[0].Output[0];
                var present = {|NNS0111:block[1] * 2|};
                var head = model.LmHead;
                var aliased = {|NNS0111:head.Call(model.Transformer.H[5].Attn.CAttn.Output)|};
            }
            """);

    [Fact]
    public Task NNS0111_broadcasting_that_fits_and_operands_that_cannot() =>
        AnalyzerVerifier.VerifyAsync<ShapeMismatchAnalyzer>(ShapeHeader + """
                var hidden = model.Transformer.H[0].Output[0];
                var centered = hidden - hidden.mean(-1, keepdim: true);
                var scaled = hidden * hidden[.., ^1].unsqueeze(1);
                var probabilities = model.LmHead.Output.softmax(-1) * model.LmHead.Output.softmax(-1)[.., ^1].unsqueeze(1);
                model.Transformer.H[1].Output[0] = hidden + 0.5 * hidden.mean(0, keepdim: true);
                var attention = model.Transformer.H[0].Attn.AttnDropout.Output;
                var weighted = attention * attention.sum(1, keepdim: true);
                var perHead = attention.sum(-1) + attention[.., .., ^1, ^1].unsqueeze(-1);
                var wider = {|NNS0111:hidden + model.Transformer.H[0].Mlp.CFc.Output|};
                var method = {|NNS0111:hidden.mul(model.LmHead.Output)|};
                var heads = {|NNS0111:attention[.., .., 0, 0] * hidden[.., 0]|};
                var compared = {|NNS0111:model.LmHead.Output.gt(hidden)|};
            }
            """);

    [Fact]
    public Task NNS0111_reshape_view_transpose_and_permute() =>
        AnalyzerVerifier.VerifyAsync<ShapeMismatchAnalyzer>(ShapeHeader + """
                var hidden = model.Transformer.H[0].Output[0];
                var heads = hidden.view(-1, 12, 64);
                var qkv = model.Transformer.H[0].Attn.CAttn.Output.view(-1, 36, 64);
                var mixed = {|NNS0111:heads + qkv|};
                var split = qkv.reshape(-1, 3, 12, 64).permute(1, 0, 2, 3)[0] + heads;
                var flat = hidden.reshape(-1, 768) + hidden.flatten(0, 1);
                var vector = hidden[0, 0];
                var notDividing = {|NNS0111:vector.view(10, 77)|};
                var notDivisible = {|NNS0111:vector.reshape(-1, 100)|};
                var grid = vector.view(24, 32);
                var swapped = {|NNS0111:hidden.transpose(1, 3)|};
                var permuted = hidden.permute(2, 0, 1);
                var tooFew = {|NNS0111:hidden.permute(0, 1)|};
                var twice = {|NNS0111:hidden.permute(0, 1, 1)|};
                var back = permuted.permute(1, 2, 0) + hidden;
                var wrongBack = {|NNS0111:permuted + model.Transformer.H[0].Mlp.CFc.Output.permute(2, 0, 1)|};
                var expanded = hidden[.., ^1].unsqueeze(1).expand(-1, 5, -1);
                var badExpand = {|NNS0111:hidden.expand(-1, -1, 3)|};
            }
            """);

    [Fact]
    public Task NNS0111_follows_locals_whose_assignments_agree_and_leaves_the_unknown_alone() =>
        AnalyzerVerifier.VerifyAsync<ShapeMismatchAnalyzer>(Header + """
            TensorProxy saved;
            using (var tracer = model.Trace())
            using (tracer.Invoke("The Eiffel Tower is in the city of"))
            {
                var width = model.Transformer.H[0].Mlp.CFc.Output;
                var block = model.Transformer.H[3];
                {|NNS0111:block.Output[0] = width|};
                var layers = model.Transformer.H;
                {|NNS0111:layers[1].Attn.Output[0] = width|};
                var either = model.Transformer.H[0].Output[0];
                if (args.Length > 0)
                {
                    either = model.Transformer.H[1].Output[0];
                }
                var sum = {|NNS0111:either + width|};
                var reassigned = model.Transformer.H[0].Output[0];
                reassigned = model.LmHead.Output;
                var unknownSum = reassigned + width;
                var grown = model.Transformer.H[0].Output[0];
                grown = grown * 2;
                var grownSum = grown + width;
                var byReference = model.Transformer.H[0].Output[0];
                Widen(ref byReference, model);
                var widened = byReference + width;
                var byOut = model.Transformer.H[0].Output[0];
                Narrow(out byOut, model);
                var narrowed = byOut + width;
                var aliased = model.Transformer.H[0].Output[0];
                ref var alias = ref aliased;
                alias = width;
                var throughAlias = aliased + width;
                var (values, indices) = model.LmHead.Output.topk(3);
                var top = values + width;
                TensorProxy steering = TorchSharp.torch.zeros(3072);
                model.Transformer.H[2].Output[0] = steering;
                model.Transformer.H[2].Output[0] = model.Transformer.H[2].Output[0] + TorchSharp.torch.ones(5);
                var applied = model.Transformer.H[2].Output[0].Apply(values => values.sum(-1));
                var appliedSum = applied + width;
                model.Transformer.H[3].Output[0] = Helper(model);
                var untyped = model.Envoy("transformer.h.0.mlp.c_fc").Output;
                model.Transformer.H[4].Output[0] = untyped;
                foreach (var layer in model.Transformer.H)
                {
                    {|NNS0111:layer.Output[0] = width|};
                }
                saved = width.Save();
            }
            Set(model, saved);

            static TensorProxy Helper(ModelGpt2 model) => model.Transformer.H[0].Mlp.CFc.Output;

            static void Set(ModelGpt2 model, TensorProxy value) => model.Transformer.H[0].Output[0] = value;

            static void Widen(ref TensorProxy value, ModelGpt2 model) => value = model.Transformer.H[0].Mlp.CFc.Output;

            static void Narrow(out TensorProxy value, ModelGpt2 model) => value = model.Transformer.H[0].Mlp.CFc.Output;

            static void Scale(ModelGpt2 model, int layer, double factor) =>
                {|NNS0111:model.Transformer.H[layer].Output[0] = model.Transformer.H[layer].Mlp.CFc.Output * factor|};
            """);

    [Fact]
    public Task NNS0111_shapes_of_a_Llama_with_grouped_key_value_heads() =>
        AnalyzerVerifier.VerifyAsync<ShapeMismatchAnalyzer>("""
            using Models;
            using NnSight;

            var model = ModelLlama318b.FromPretrained("models/llama");
            using (var tracer = model.Trace())
            using (tracer.Invoke(new long[] { 1, 2, 3 }))
            {
                var layer = model.Model.Layers[0];
                var keys = {|NNS0111:layer.SelfAttn.OProj.Call(layer.SelfAttn.KProj.Output)|};
                var output = layer.SelfAttn.OProj.Call(layer.SelfAttn.QProj.Output);
                {|NNS0111:layer.Output.HiddenStates = layer.Mlp.GateProj.Output|};
                layer.Mlp.DownProj.Input = layer.Mlp.GateProj.Output * layer.Mlp.UpProj.Output;
                var weights = layer.SelfAttn.Output.Weights.softmax(-1).sum(1);
                var keyHeads = layer.SelfAttn.Output.Present[0].transpose(1, 2).reshape(-1, 1024) + layer.SelfAttn.KProj.Output.view(-1, 1024);
                var grouped = {|NNS0111:layer.SelfAttn.Output.Present[0] * layer.SelfAttn.QProj.Output.view(1, -1, 32, 128).transpose(1, 2)|};
                var cosines = layer.SelfAttn.RotaryEmb.Output.Cos * layer.SelfAttn.RotaryEmb.Output.Sin;
            }
            """);

    [Fact]
    public Task NNS0111_messages_name_both_shapes_in_config_terms() =>
        AnalyzerVerifier.VerifyAsync<ShapeMismatchAnalyzer>(ShapeHeader + """
                {|#0:model.Transformer.H[2].Output[0] = model.Transformer.H[3].Attn.CAttn.Output|};
                var sum = {|#1:model.Transformer.H[0].Output[0] + model.Transformer.H[0].Mlp.CFc.Output|};
                var lens = {|#2:model.LmHead.Call(model.Transformer.H[5].Mlp.CFc.Output)|};
                var product = {|#3:model.Transformer.LnF.Output.matmul(model.LmHead.Output.transpose(1, 2))|};
                var third = {|#4:model.Transformer.H[0].Output[2]|};
                {|#5:model.Transformer.H[1].Skip(model.Transformer.H[0].Output[0])|};
                {|#6:model.Transformer.H[2].Output[0] = model.Transformer.H[3].Attn.Output|};
            }
            """,
            new DiagnosticResult(DiagnosticDescriptors.ShapeMismatchSetting).WithLocation(0).WithArguments(
                "model.Transformer.H[2].Output[0]", "[batch, seq, 768]", "[batch, seq, 2304]", "model.Transformer.H[3].Attn.CAttn.Output", "2304 and 768 differ"),
            new DiagnosticResult(DiagnosticDescriptors.ShapeMismatchOperands).WithLocation(1).WithArguments(
                "model.Transformer.H[0].Output[0] + model.Transformer.H[0].Mlp.CFc.Output", "broadcast", "[batch, seq, 768]", "[batch, seq, 3072]", "768 and 3072 differ"),
            new DiagnosticResult(DiagnosticDescriptors.ShapeMismatchCall).WithLocation(2).WithArguments(
                "model.LmHead.Call(model.Transformer.H[5].Mlp.CFc.Output)", "[batch, seq, 3072]", "model.LmHead", "[batch, seq, 768]", "the widths 3072 and 768 differ"),
            new DiagnosticResult(DiagnosticDescriptors.ShapeMismatchOperands).WithLocation(3).WithArguments(
                "model.Transformer.LnF.Output.matmul(model.LmHead.Output.transpose(1, 2))", "matrix-multiply", "[batch, seq, 768]", "[batch, 50257, seq]", "the inner sizes 768 and 50257 differ"),
            new DiagnosticResult(DiagnosticDescriptors.ShapeMismatchValue).WithLocation(4).WithArguments(
                "model.Transformer.H[0].Output[2]", "([batch, seq, 768], ([batch, 12, past+seq, 64], [batch, 12, past+seq, 64]))", "the tuple has 2 elements (0 to 1)"),
            new DiagnosticResult(DiagnosticDescriptors.ShapeMismatchSkip).WithLocation(5).WithArguments(
                "model.Transformer.H[1].Skip(model.Transformer.H[0].Output[0])", "([batch, seq, 768], ([batch, 12, past+seq, 64], [batch, 12, past+seq, 64]))",
                "[batch, seq, 768]", "model.Transformer.H[0].Output[0]", "a tuple and a tensor differ"),
            new DiagnosticResult(DiagnosticDescriptors.ShapeMismatchSetting).WithLocation(6).WithArguments(
                "model.Transformer.H[2].Output[0]", "[batch, seq, 768]", "([batch, seq, 768], ([batch, 12, past+seq, 64], [batch, 12, past+seq, 64]))",
                "model.Transformer.H[3].Attn.Output", "a tensor cannot be set to a tuple"));
}
