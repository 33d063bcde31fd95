using static TorchSharp.torch;

namespace NnSight.Models.Llama;

/// <summary>
/// The output and input shapes of every Llama-family module for a forward pass over <c>r</c> rows, <c>s</c> new
/// positions and <c>p</c> cached ones, from the config: hidden states <c>[r, s, hidden_size]</c>, attention
/// probabilities <c>[r, heads, s, p + s]</c>, keys and values <c>[r, key_value_heads, p + s, head_dim]</c>, rotary
/// cos and sin <c>[r, s, head_dim]</c>, logits <c>[r, s, vocab]</c>.
/// </summary>
internal sealed class LlamaShapeRules(LlamaConfig config, ScalarType dtype) : IShapeRules
{
    public ValueShape? Output(string path, ForwardShape forward)
    {
        var (r, s, p) = (forward.Rows, forward.Positions, forward.PastPositions);
        return Segments(path) switch
        {
            [] => new TupleShape([Float(r, s, config.VocabSize), Cache(r, p + s)]),
            ["model"] => new TupleShape([Hidden(r, s), Cache(r, p + s)]),
            ["model", "embed_tokens" or "norm"] => Hidden(r, s),
            ["model", "layers", _] => new TupleShape([Hidden(r, s), Present(r, p + s)]),
            ["model", "layers", _, "self_attn"] => new TupleShape([Hidden(r, s), Weights(r, s, p + s), Present(r, p + s)]),
            ["model", "layers", _, "input_layernorm" or "post_attention_layernorm" or "mlp"] => Hidden(r, s),
            ["model", "layers", _, "self_attn", "q_proj"] => Float(r, s, QueryWidth),
            ["model", "layers", _, "self_attn", "k_proj" or "v_proj"] => Float(r, s, KeyValueWidth),
            ["model", "layers", _, "self_attn", "o_proj"] => Hidden(r, s),
            ["model", "layers", _, "self_attn", "rotary_emb"] => new TupleShape([Float(r, s, config.ResolvedHeadDim), Float(r, s, config.ResolvedHeadDim)]),
            ["model", "layers", _, "mlp", "gate_proj" or "up_proj" or "act_fn"] => Float(r, s, config.IntermediateSize),
            ["model", "layers", _, "mlp", "down_proj"] => Hidden(r, s),
            ["lm_head"] => Float(r, s, config.VocabSize),
            _ => null,
        };
    }

    public ValueShape? Inputs(string path, ForwardShape forward)
    {
        var (r, s, p) = (forward.Rows, forward.Positions, forward.PastPositions);
        var ids = new TensorShape([r, s], ScalarType.Int64);
        var mask = new TensorShape([r, p + s], ScalarType.Int64);
        var cache = p == 0 ? null : Cache(r, p);
        var layerInputs = new TupleShape([Hidden(r, s), Float(r, 1, s, p + s), ids, p == 0 ? null : Present(r, p)]);
        return Segments(path) switch
        {
            [] => new TupleShape([ids, cache, mask, ids, null]),
            ["model"] => new TupleShape([ids, cache, mask, ids]),
            ["model", "embed_tokens"] => new TupleShape([ids]),
            ["model", "layers", _] or ["model", "layers", _, "self_attn"] => layerInputs,
            ["model", "layers", _, "self_attn", "rotary_emb"] => new TupleShape([Float(r, config.ResolvedKeyValueHeads, s, config.ResolvedHeadDim), ids]),
            ["model", "layers", _, "self_attn", "o_proj"] => new TupleShape([Float(r, s, QueryWidth)]),
            ["model", "layers", _, "mlp", "act_fn" or "down_proj"] => new TupleShape([Float(r, s, config.IntermediateSize)]),
            ["model", "norm"] or ["lm_head"] or ["model", "layers", _, "input_layernorm" or "post_attention_layernorm" or "mlp"]
                or ["model", "layers", _, "self_attn", "q_proj" or "k_proj" or "v_proj"]
                or ["model", "layers", _, "mlp", "gate_proj" or "up_proj"] => new TupleShape([Hidden(r, s)]),
            _ => null,
        };
    }

    private long QueryWidth => (long)config.NumAttentionHeads * config.ResolvedHeadDim;

    private long KeyValueWidth => (long)config.ResolvedKeyValueHeads * config.ResolvedHeadDim;

    private static string[] Segments(string path) => path.Length == 0 ? [] : path.Split('.');

    private TensorShape Hidden(long rows, long positions) => Float(rows, positions, config.HiddenSize);

    private TensorShape Weights(long rows, long positions, long keys) => Float(rows, config.NumAttentionHeads, positions, keys);

    private TupleShape Present(long rows, long positions)
    {
        var keyValue = Float(rows, config.ResolvedKeyValueHeads, positions, config.ResolvedHeadDim);
        return new([keyValue, keyValue]);
    }

    private TupleShape Cache(long rows, long positions) =>
        new([.. Enumerable.Range(0, config.NumHiddenLayers).Select(_ => (ValueShape)Present(rows, positions))]);

    private TensorShape Float(params long[] dims) => new(dims, dtype);
}
