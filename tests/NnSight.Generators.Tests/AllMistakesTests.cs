namespace NnSight.Generators.Tests;

/// <summary>A file with each mistake once gets exactly the expected diagnostics from all analyzers together.</summary>
public sealed class AllMistakesTests
{
    [Fact]
    public async Task Each_mistake_gives_exactly_its_diagnostic()
    {
        var markup = Markup.Parse("""
            using Models;
            using NnSight;

            var model = ModelGpt2.FromPretrained("models/gpt2");
            TensorProxy hidden, logits, first;
            using (var gen = model.Generate(maxNewTokens: 2))
            {
                var outside = {|NNS0104:model.LmHead.Output|};
                using (var invoker = gen.Invoke("The Eiffel Tower is in the city of"))
                {
                    var late = model.Transformer.H[{|NNS0101:12|}].Output[0];
                    {|NNS0111:model.Transformer.H[4].Output[0] = model.Transformer.H[4].Attn.CAttn.Output|};
                    var fifth = model.Transformer.H[5].Output[0];
                    {|NNS0106:model.Transformer.H[3].Output|}[0] = fifth;
                    hidden = model.Transformer.H[^1].Output[0].Save();
                    var early = {|NNS0102:hidden.Value|};
                    logits = model.LmHead.Output;
                    invoker.Next();
                    {|NNS0105:invoker.Next()|};
                }
            }
            var read = {|NNS0103:logits.Value|};
            var fine = hidden.Value;
            using (var remote = model.Trace(remote: true))
            using (remote.Invoke("b"))
            {
                {|NNS0107:model.LmHead.Output.Apply(values => values)|}.Save();
            }
            using (var stopped = model.Trace())
            using (stopped.Invoke("c"))
            {
                first = model.Transformer.H[0].Output[0].Save();
                stopped.Stop();
                {|NNS0109:model.LmHead.Output|}.Save();
            }
            var perStep = {|NNS0110:first.Values|};
            """);
        var diagnostics = await AnalyzerVerifier.AllDiagnosticsAsync(markup.Source);

        markup.AssertDiagnostics(diagnostics);
    }
}
