using BenchmarkDotNet.Attributes;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Benchmarks;

/// <summary>
/// The cost of the tracing machinery alone — record the graph, batch, install and remove hooks, run the interleaver —
/// on a model of 24 modules whose forward does nothing but pass a [1, 1] tensor along.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class MachineryBenchmarks
{
    private const int Layers = 24;
    private static readonly long[] Prompt = [1, 2, 3];
    private NullModel _model = null!;
    private Envoy _layers = null!;

    [GlobalSetup]
    public void Setup()
    {
        _model = new NullModel();
        _layers = _model.Envoy("layers");
    }

    [Benchmark(Description = "empty trace")]
    public void EmptyTrace()
    {
        using var tracer = _model.Trace();
        using var invoker = tracer.Invoke(Prompt);
    }

    [Benchmark(Description = "1 save")]
    public void OneSave()
    {
        TensorProxy saved;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Prompt))
        {
            saved = _layers[0].Output.Save();
        }
        saved.Value.Dispose();
    }

    [Benchmark(Description = "24 saves")]
    public void TwentyFourSaves()
    {
        var saved = new TensorProxy[Layers];
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Prompt))
        {
            for (var layer = 0; layer < Layers; layer++)
            {
                saved[layer] = _layers[layer].Output.Save();
            }
        }
        foreach (var proxy in saved)
        {
            proxy.Value.Dispose();
        }
    }

    [Benchmark(Description = "patch")]
    public void Patch()
    {
        TensorProxy saved;
        using (var tracer = _model.Trace())
        using (tracer.Invoke(Prompt))
        {
            _layers[12].Output = _layers[3].Output * 2;
            saved = _layers[^1].Output.Save();
        }
        saved.Value.Dispose();
    }

    /// <summary>A module that returns its input.</summary>
    private sealed class PassThrough() : nn.Module<Tensor, Tensor>(nameof(PassThrough))
    {
        public override Tensor forward(Tensor input) => input;
    }

    /// <summary>A tree of 24 pass-through modules in a list.</summary>
    private sealed class NullNetwork : nn.Module<Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.ModuleList<PassThrough> _layers;

        public NullNetwork() : base(nameof(NullNetwork))
        {
            _layers = nn.ModuleList(Enumerable.Range(0, Layers).Select(_ => new PassThrough()).ToArray());
            register_module("layers", _layers);
        }

        public override Tensor forward(Tensor input)
        {
            var hidden = input;
            foreach (var layer in _layers)
            {
                hidden = layer.call(hidden);
            }
            return hidden;
        }
    }

    private sealed class NullModel() : NnSightModel(new NullNetwork())
    {
        private readonly Tensor _state = zeros(1, 1);

        protected override IReadOnlyList<TokenRow> PrepareInput(InvocationInput input) => ((InvocationInput.Ids)input).Rows;

        protected override TokenBatch CreateBatch(IReadOnlyList<TokenRow> rows) => new(_state.alias(), _state.alias());

        protected override Tensor RunForward(TokenBatch batch, ForwardRequest request) =>
            ((NullNetwork)ModuleAt("")).call(batch.InputIds).alias();
    }
}
