using NnSight.Intervention;
using NnSight.Models;
using NnSight.Serialization;
using NnSight.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Tests;

public sealed class GraphSerializationTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private static readonly ReferenceIndex Reference = ReferenceIndex.Gpt2;
    private readonly LanguageModel _model = fixture.Model;

    [Fact]
    public void A_serialized_then_deserialized_graph_gives_identical_results()
    {
        using var generator = new Generator(5);
        using var noise = randn(1, 14, 64, generator: generator) * 0.01;
        var saved = new List<TensorProxy>();
        string json;
        var tracer = _model.Trace();
        using (tracer)
        {
            TensorProxy clean;
            using (tracer.Invoke(Reference.Prompts["ioi_clean"].Text))
            {
                clean = _model.Envoy("transformer.h")[2].Output[0];
                saved.Add(clean.Token[^1].Save());
            }
            using (tracer.Invoke(Reference.Prompts["ioi_corrupt"].Text))
            {
                _model.Envoy("transformer.h")[2].Output[0][.., 13] = clean[.., 13];
                _model.Envoy("transformer.h")[1].Output[0] = _model.Envoy("transformer.h")[1].Output[0] + noise;
                var logits = _model.Envoy("lm_head").Output;
                saved.Add(logits[.., ^1].Save());
                var (values, indices) = logits.softmax(-1).topk(3);
                saved.Add(values.Save());
                saved.Add(indices.Save());
                saved.Add(_model.Envoy("lm_head").Call(_model.Envoy("transformer.ln_f").Call(_model.Envoy("transformer.h")[^1].Output[0])).mean(1).Save());
            }
            json = GraphSerializer.Serialize(tracer.Graph);
        }

        using var graph = GraphSerializer.Deserialize(json);
        Assert.Equal(json, GraphSerializer.Serialize(graph));
        var rows = tracer.Inputs.Select(input => (IReadOnlyList<TokenRow>)((InvocationInput.Text)input).Prompts
            .Select(prompt => new TokenRow([.. _model.RequireTokenizer().Encode(prompt).Select(id => (long)id)])).ToList()).ToList();
        var result = GraphRunner.Run(_model, graph, rows, generation: null);

        Assert.Equal(saved.Count, result.Saved.Count);
        foreach (var proxy in saved)
        {
            TensorAssert.Close(proxy.Value, result.Saved[proxy.Node.Id], 0, 0, proxy.Describe());
        }
        TensorAssert.Close(tracer.Output, result.Output!, 0, 0, "output");
    }

    [Fact]
    public void The_json_names_ops_accesses_and_encoded_constants()
    {
        using var tracer = _model.Trace();
        using (tracer.Invoke(Reference.Prompts["eiffel"].Text))
        {
            var hidden = _model.Envoy("transformer.h")[^1].Output[0];
            (hidden[.., ..2] * 2.5 + tensor(new float[] { 1, 2 }).unsqueeze(1)).Save();
        }

        var json = GraphSerializer.Serialize(tracer.Graph);

        Assert.StartsWith("""{"format":"nnsight-graph","version":1,"nodes":[{"id":0,"op":"output","access":{"path":"transformer.h.3","kind":"output","invocation":0,"call":0},"args":[]""", json, StringComparison.Ordinal);
        Assert.Contains("""op":"index","args":[{"node":1},{"index":[{"kind":"slice","start":0},{"kind":"slice","start":0,"stop":2}]}]""", json, StringComparison.Ordinal);
        Assert.Contains("""op":"mul","args":[{"node":2},{"float":2.5}]""", json, StringComparison.Ordinal);
        Assert.Contains("""{"tensor":{"dtype":"Float32","shape":[2,1],"data":"AACAPwAAAEA="}}""", json, StringComparison.Ordinal);
        Assert.Contains("""saved":true""", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Local_code_cannot_be_serialized()
    {
        using var tracer = _model.Trace();
        using (tracer.Invoke(Reference.Prompts["eiffel"].Text))
        {
            _model.Envoy("lm_head").Output.Apply(logits => logits * 2).Save();
        }

        var error = Assert.Throws<GraphFormatException>(() => GraphSerializer.Serialize(tracer.Graph));

        Assert.Contains("runs local code (Apply)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"format":"nnsight-graph","version":2,"nodes":[]}""", "format version 2; this runtime reads version 1")]
    [InlineData("""{"format":"nnsight-graph","version":1,"nodes":[{"id":0,"op":"system","args":[]}]}""", "\"system\" is not an op of the registry")]
    [InlineData("""{"format":"nnsight-graph","version":1,"nodes":[{"id":0,"op":"apply","args":[]}]}""", "runs local code and is refused")]
    [InlineData("""{"format":"nnsight-graph","version":1,"nodes":[{"id":0,"op":"neg","args":[{"node":0}]}]}""", "nodes may only reference earlier nodes")]
    [InlineData("""{"format":"nnsight-graph","version":1,"nodes":[{"id":0,"op":"output","args":[]}]}""", "needs a module access")]
    [InlineData("""{"format":"nnsight-graph","version":1,"nodes":[{"id":0,"op":"neg","args":[{"tensor":{"dtype":"Float32","shape":[1000000000],"data":""}}]}]}""", "needs 4000000000 bytes; 0 were sent")]
    [InlineData("""{"format":"nnsight-graph","version":1,"nodes":[""", "malformed")]
    [InlineData("""{"nodes":[]}""", "not an intervention graph")]
    public void Malformed_graphs_are_refused_with_a_clear_message(string json, string expected)
    {
        var error = Assert.Throws<GraphFormatException>(() => GraphSerializer.Deserialize(json));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_graph_disposes_its_tensor_constants_and_a_graph_refused_halfway_leaves_none_alive()
    {
        var statistics = DisposeScopeManager.Statistics;
        var before = statistics.ThreadTotalLiveCount;
        var graph = new InterventionGraph();
        graph.Add("add", [new NodeRef(0), zeros(2)]);
        graph.Add("index", [new NodeRef(0), new[] { new IndexSpec(IndexKind.Tensor, Values: tensor(new long[] { 1 })) }]);
        graph.Add("cat", [new List<object?> { new NodeRef(0), ones(2) }, 0L]);
        Assert.Equal(before + 3, statistics.ThreadTotalLiveCount);

        graph.Dispose();
        Assert.Equal(before, statistics.ThreadTotalLiveCount);
        Assert.Throws<GraphFormatException>(() => GraphSerializer.Deserialize("""
            {"format":"nnsight-graph","version":1,"nodes":[{"id":0,"op":"neg","args":[
              {"tensor":{"dtype":"Float32","shape":[1],"data":"AAAAAA=="}},
              {"index":[{"kind":"tensor","tensor":{"dtype":"Int64","shape":[1],"data":"AAAAAAAAAAA="}},{"kind":"single","tensor":{}}]}]}]}
            """));
        Assert.Equal(before, statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Serializing_a_graph_and_reading_or_writing_tensors_leave_no_handle_alive()
    {
        using var folder = new TemporaryFolder();
        using var constant = ones(2, 3);
        using var ids = tensor(new long[] { 464, 412, 733 });
        var statistics = DisposeScopeManager.Statistics;
        var before = statistics.ThreadTotalLiveCount;

        using (var graph = new InterventionGraph())
        {
            graph.Add("neg", [constant.alias().DetachFromDisposeScope()]);
            GraphSerializer.Serialize(graph);
        }
        SafetensorsWriter.Write(folder.File("constant.safetensors"), [new("constant", constant)]);
        var rows = InvocationInput.FromTensor(ids);

        Assert.Equal([464L, 412, 733], rows.Rows[0].Ids);
        Assert.Equal(before, statistics.ThreadTotalLiveCount);
    }
}
