using static TorchSharp.torch;

namespace NnSight.Models.Gpt2;

/// <summary>
/// The output and input shapes of every GPT-2 module for a forward pass over <c>r</c> rows, <c>s</c> new positions and
/// <c>p</c> cached ones, from the config: hidden states <c>[r, s, n_embd]</c>, attention probabilities
/// <c>[r, n_head, s, p + s]</c>, keys and values <c>[r, n_head, p + s, head_dim]</c>, logits <c>[r, s, vocab]</c>.
/// </summary>
internal sealed class GPT2ShapeRules(GPT2Config config, ScalarType dtype) : IShapeRules
{
    public ValueShape? Output(string path, ForwardShape forward)
    {
        var (r, s, p) = (forward.Rows, forward.Positions, forward.PastPositions);
        return Segments(path) switch
        {
            [] => new TupleShape([Float(r, s, config.VocabSize), Cache(r, p + s)]),
            ["transformer"] => new TupleShape([Hidden(r, s), Cache(r, p + s)]),
            ["transformer", "wte" or "wpe" or "drop" or "ln_f"] => Hidden(r, s),
            ["transformer", "h", _] or ["transformer", "h", _, "attn"] => new TupleShape([Hidden(r, s), Present(r, p + s)]),
            ["transformer", "h", _, "ln_1" or "ln_2" or "mlp"] => Hidden(r, s),
            ["transformer", "h", _, "attn", "c_attn"] => Float(r, s, 3 * config.NEmbd),
            ["transformer", "h", _, "attn", "c_proj" or "resid_dropout"] => Hidden(r, s),
            ["transformer", "h", _, "attn", "attn_dropout"] => Float(r, config.NHead, s, p + s),
            ["transformer", "h", _, "mlp", "c_fc" or "act"] => Float(r, s, config.InnerDim),
            ["transformer", "h", _, "mlp", "c_proj" or "dropout"] => Hidden(r, s),
            ["lm_head"] => Float(r, s, config.VocabSize),
            _ => null,
        };
    }

    public ValueShape? Inputs(string path, ForwardShape forward)
    {
        var (r, s, p) = (forward.Rows, forward.Positions, forward.PastPositions);
        var ids = new TensorShape([r, s], ScalarType.Int64);
        var past = p == 0 ? null : Present(r, p);
        return Segments(path) switch
        {
            [] => new TupleShape([ids, p == 0 ? null : Cache(r, p), new TensorShape([r, p + s], ScalarType.Int64), ids, null]),
            ["transformer"] => new TupleShape([ids, p == 0 ? null : Cache(r, p), new TensorShape([r, p + s], ScalarType.Int64), ids]),
            ["transformer", "wte" or "wpe"] => new TupleShape([ids]),
            ["transformer", "h", _] or ["transformer", "h", _, "attn"] => new TupleShape([Hidden(r, s), past, Float(r, 1, 1, p + s)]),
            ["transformer", "h", _, "attn", "attn_dropout"] => new TupleShape([Float(r, config.NHead, s, p + s)]),
            ["transformer", "h", _, "mlp", "act" or "c_proj"] => new TupleShape([Float(r, s, config.InnerDim)]),
            ["transformer", "drop" or "ln_f"] or ["lm_head"] or ["transformer", "h", _, "ln_1" or "ln_2" or "mlp"]
                or ["transformer", "h", _, "attn", "c_attn" or "c_proj" or "resid_dropout"]
                or ["transformer", "h", _, "mlp", "c_fc" or "dropout"] => new TupleShape([Hidden(r, s)]),
            _ => null,
        };
    }

    private static string[] Segments(string path) => path.Length == 0 ? [] : path.Split('.');

    private TensorShape Hidden(long rows, long positions) => Float(rows, positions, config.NEmbd);

    private TupleShape Present(long rows, long positions) =>
        new([Float(rows, config.NHead, positions, config.HeadDim), Float(rows, config.NHead, positions, config.HeadDim)]);

    private TupleShape Cache(long rows, long positions) => new([.. Enumerable.Range(0, config.NLayer).Select(_ => (ValueShape)Present(rows, positions))]);

    private TensorShape Float(params long[] dims) => new(dims, dtype);
}
