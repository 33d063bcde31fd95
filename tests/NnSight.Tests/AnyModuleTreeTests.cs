using NnSight.TestSupport;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Tests;

/// <summary>The runtime on a module tree that is not a language model and has no shape rules.</summary>
public sealed class AnyModuleTreeTests
{
    private sealed class Toy : nn.Module<Tensor, Tensor>
    {
        private readonly Embedding _embed;
        private readonly ModuleList<Linear> _layers;
        private readonly Linear _head;

        public Toy() : base(nameof(Toy))
        {
            _embed = nn.Embedding(10, 8);
            _layers = nn.ModuleList(nn.Linear(8, 8), nn.Linear(8, 8));
            _head = nn.Linear(8, 3);
            register_module("embed", _embed);
            register_module("layers", _layers);
            register_module("head", _head);
            SeededWeights.Fill(this, seed: 1);
        }

        public override Tensor forward(Tensor ids)
        {
            var hidden = _embed.call(ids);
            foreach (var layer in _layers)
            {
                hidden = layer.call(hidden).relu();
            }
            return _head.call(hidden);
        }
    }

    private sealed class ToyModel() : NnSightModel(new Toy())
    {
        public Toy Network => (Toy)ModuleAt("");

        protected internal override IReadOnlyList<TokenRow> PrepareInput(InvocationInput input) =>
            ((InvocationInput.Ids)input).Rows;

        protected internal override TokenBatch CreateBatch(IReadOnlyList<TokenRow> rows) => TokenBatch.LeftPadded(rows, padId: 0);

        protected internal override Tensor RunForward(TokenBatch batch, ForwardRequest request) => Network.call(batch.InputIds);
    }

    private readonly ToyModel _model = new();

    [Fact]
    public void Values_are_read_and_set_on_any_typed_module_tree()
    {
        TensorProxy firstLayer, output;
        var tracer = _model.Trace();
        using (tracer)
        using (tracer.Invoke([1L, 2, 3]))
        {
            firstLayer = _model.Envoy("layers")[0].Output.Save();
            _model.Envoy("layers")[^1].Output = _model.Envoy("layers")[^1].Output * 0;
            output = _model.Root.Output.Save();
        }

        using var ids = tensor(new long[] { 1, 2, 3 }).unsqueeze(0);
        var layers = _model.Network.named_children().ToDictionary(child => child.name, child => child.module);
        using var expectedFirst = ((Linear)((ModuleList<Linear>)layers["layers"])[0]).call(((Embedding)layers["embed"]).call(ids));
        Assert.True(expectedFirst.allclose(firstLayer.Value));
        using var bias = ((Linear)layers["head"]).bias!.expand(1, 3, 3);
        Assert.True(bias.allclose(output.Value));
        Assert.True(bias.allclose(tracer.Output));
    }

    [Fact]
    public void Without_shape_rules_shape_is_a_specific_error()
    {
        using var tracer = _model.Trace();
        using var invoker = tracer.Invoke([1L, 2, 3]);

        var error = Assert.Throws<ShapeUnknownException>(() => _model.Envoy("head").Output.shape);

        Assert.Contains("head.output is not known before the run: the model has no shape rules", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Envoys_follow_the_tree_and_print_it()
    {
        Assert.Equal(["embed", "layers", "head"], _model.Root.Children.Select(child => child.Name));
        Assert.Equal("layers.1", _model.Envoy("layers")[^1].Path);
        Assert.Equal(2, _model.Envoy("layers").Count);
        Assert.Equal("Linear(in_features=8, out_features=3, bias=True)", _model.Envoy("head").ToString());
        Assert.Equal("""
            Toy(
              (embed): Embedding(10, 8)
              (layers): ModuleList(
                (0-1): 2 x Linear(in_features=8, out_features=8, bias=True)
              )
              (head): Linear(in_features=8, out_features=3, bias=True)
            )
            """, _model.ToString());
    }

    [Fact]
    public void Bad_paths_and_indices_name_what_exists()
    {
        var index = Assert.Throws<ModuleNotFoundException>(() => _model.Envoy("layers")[2]);
        Assert.Contains("layers has 2 modules; index 2 is out of range", index.Message, StringComparison.Ordinal);
        var path = Assert.Throws<ModuleNotFoundException>(() => _model.Envoy("layer"));
        Assert.Contains("has no child \"layer\" (children: embed, layers, head)", path.Message, StringComparison.Ordinal);
        var list = Assert.Throws<TracingException>(() =>
        {
            using var tracer = _model.Trace();
            using var invoker = tracer.Invoke([1L]);
            return _model.Envoy("layers").Output;
        });
        Assert.Contains("layers is a ModuleList, which is never called itself; index it", list.Message, StringComparison.Ordinal);
    }
}
