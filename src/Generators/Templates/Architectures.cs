using System.Collections.Generic;
using System.Linq;

namespace NnSight.Generators.Templates;

/// <summary>
/// The architectures the generator knows, by <c>model_type</c>. Module names, order and output structure follow the
/// TorchSharp implementations in NnSight.Models (HuggingFace's names); shapes are written in config terms.
/// </summary>
internal static class Architectures
{
    /// <summary>Hidden states of the Llama-shaped families.</summary>
    private const string Hidden = "[batch, seq, {hidden_size}]";

    /// <summary>Token ids, the first argument of the models and embeddings.</summary>
    private const string Ids = "[batch, seq]";

    /// <summary>A key or value of the Llama-shaped families: grouped heads over every position so far.</summary>
    private const string KeyValue = "[batch, {num_key_value_heads}, past+seq, {head_dim}]";

    private static readonly ArchitectureTemplate[] All =
    [
        Gpt2(),
        Llama("llama"),
        Llama("mistral"),
        Llama("qwen2"),
        Mixtral(),
        Phi(),
    ];

    /// <summary>Every supported <c>model_type</c>, sorted.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = All.Select(template => template.ModelType).OrderBy(type => type, System.StringComparer.Ordinal).ToArray();

    /// <summary>The template for <paramref name="modelType"/>, or null.</summary>
    public static ArchitectureTemplate? Find(string modelType) => All.FirstOrDefault(template => template.ModelType == modelType);

    private static ArchitectureTemplate Gpt2()
    {
        const string Width = "[batch, seq, {n_embd}]";
        const string Inner = "[batch, seq, {inner}]";
        const string Probabilities = "[batch, {n_head}, seq, past+seq]";
        const string KeyOrValue = "[batch, {n_head}, past+seq, {head_dim}]";
        var present = new TupleElement(1, "Present", "the (key, value) of this layer, each " + KeyOrValue, Pair(KeyOrValue));
        return new ArchitectureTemplate(
            "gpt2",
            "GPT-2",
            "NnSight.Models.Gpt2.GPT2Config",
            ["n_layer", "n_embd", "n_head", "vocab_size"],
            ["n_layer", "n_embd", "n_head", "n_inner", "n_positions", "vocab_size"],
            values =>
            {
                values.Default("n_positions", 1024);
                values.Default("activation_function", "gelu_new");
                values.Set("inner", values.Long("n_inner") ?? 4 * values.Long("n_embd")!.Value);
                values.Set("head_dim", values.Long("n_embd")!.Value / values.Long("n_head")!.Value);
                values.Set("qkv", 3 * values.Long("n_embd")!.Value);
            },
            RootOutput("{n_layer}", KeyOrValue),
            [
                M("transformer", "GPT2Model", input: Ids, tuple: [new(0, "LastHiddenState", "the hidden states after ln_f, " + Width, Width), Cache(1, "{n_layer}", KeyOrValue)], children:
                [
                    M("wte", "Embedding", Width, input: Ids),
                    M("wpe", "Embedding", Width, input: Ids),
                    M("drop", "Dropout", Width, input: Width, elementwise: true),
                    L("h", "n_layer", M("h", "GPT2Block", input: Width, tuple: [new(0, "HiddenStates", "the residual stream after the block, " + Width, Width), present], children:
                    [
                        M("ln_1", "LayerNorm", Width, input: Width),
                        M("attn", "GPT2Attention", input: Width, tuple: [new(0, "Output", "the attention output after c_proj, " + Width, Width), present], children:
                        [
                            M("c_attn", "Linear (HuggingFace Conv1D)", "[batch, seq, {qkv}]", input: Width),
                            M("attn_dropout", "Dropout", "the attention probabilities, " + Probabilities, input: Probabilities, shape: Probabilities, elementwise: true),
                            M("c_proj", "Linear (HuggingFace Conv1D)", Width, input: Width),
                            M("resid_dropout", "Dropout", Width, input: Width, elementwise: true),
                        ]),
                        M("ln_2", "LayerNorm", Width, input: Width),
                        M("mlp", "GPT2MLP", Width, input: Width, children:
                        [
                            M("c_fc", "Linear (HuggingFace Conv1D)", Inner, input: Width),
                            M("act", "{activation_function} activation", Inner, input: Inner, elementwise: true),
                            M("c_proj", "Linear (HuggingFace Conv1D)", Width, input: Inner),
                            M("dropout", "Dropout", Width, input: Width, elementwise: true),
                        ]),
                    ])),
                    M("ln_f", "LayerNorm", Width, input: Width),
                ]),
                M("lm_head", "Linear", "[batch, seq, {vocab_size}]", input: Width),
            ]);
    }

    private static ArchitectureTemplate Llama(string modelType)
    {
        const string Intermediate = "[batch, seq, {intermediate_size}]";
        var prefix = modelType switch { "llama" => "Llama", "mistral" => "Mistral", _ => "Qwen2" };
        return new(
            modelType,
            prefix,
            $"NnSight.Models.Llama.{prefix}Config",
            ["num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "vocab_size"],
            ["num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size"],
            DeriveAttention,
            RootOutput("{num_hidden_layers}", KeyValue),
            [
                M("model", prefix + "Model", input: Ids, tuple: [new(0, "LastHiddenState", "the hidden states after norm, " + Hidden, Hidden), Cache(1, "{num_hidden_layers}", KeyValue)], children:
                [
                    M("embed_tokens", "Embedding", Hidden, input: Ids),
                    L("layers", "num_hidden_layers", M("layers", prefix + "DecoderLayer", input: Hidden, tuple: [new(0, "HiddenStates", "the residual stream after the layer, " + Hidden, Hidden), Present(1)], children:
                    [
                        M("input_layernorm", prefix + "RMSNorm", Hidden, input: Hidden),
                        SelfAttention(prefix, "o_proj"),
                        M("post_attention_layernorm", prefix + "RMSNorm", Hidden, input: Hidden),
                        M("mlp", prefix + "MLP", Hidden, input: Hidden, children:
                        [
                            M("gate_proj", "Linear", Intermediate, input: Hidden),
                            M("act_fn", "{hidden_act} activation", Intermediate, input: Intermediate, elementwise: true),
                            M("up_proj", "Linear", Intermediate, input: Hidden),
                            M("down_proj", "Linear", Hidden, input: Intermediate),
                        ]),
                    ])),
                    M("norm", prefix + "RMSNorm", Hidden, input: Hidden),
                ]),
                M("lm_head", "Linear", "[batch, seq, {vocab_size}]", input: Hidden),
            ]);
    }

    private static ArchitectureTemplate Mixtral()
    {
        const string Tokens = "[tokens, {hidden_size}]";
        const string Routed = "[tokens, {intermediate_size}]";
        return new(
            "mixtral",
            "Mixtral",
            null,
            ["num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "vocab_size", "num_local_experts"],
            ["num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size", "num_local_experts"],
            DeriveAttention,
            RootOutput("{num_hidden_layers}", KeyValue),
            [
                M("model", "MixtralModel", input: Ids, tuple: [new(0, "LastHiddenState", "the hidden states after norm, " + Hidden, Hidden), Cache(1, "{num_hidden_layers}", KeyValue)], children:
                [
                    M("embed_tokens", "Embedding", Hidden, input: Ids),
                    L("layers", "num_hidden_layers", M("layers", "MixtralDecoderLayer", input: Hidden, tuple: [new(0, "HiddenStates", "the residual stream after the layer, " + Hidden, Hidden), Present(1)], children:
                    [
                        M("input_layernorm", "MixtralRMSNorm", Hidden, input: Hidden),
                        SelfAttention("Mixtral", "o_proj"),
                        M("post_attention_layernorm", "MixtralRMSNorm", Hidden, input: Hidden),
                        M("block_sparse_moe", "MixtralSparseMoeBlock", input: Hidden, tuple: [new(0, "Output", "the mixture's output, " + Hidden, Hidden), new(1, "RouterLogits", "[batch·seq, {num_local_experts}]", "[batch·seq, {num_local_experts}]")], children:
                        [
                            M("gate", "Linear", "the router logits, [batch·seq, {num_local_experts}]", input: "[batch·seq, {hidden_size}]", shape: "[batch·seq, {num_local_experts}]"),
                            L("experts", "num_local_experts", M("experts", "MixtralBlockSparseTop2MLP", "the tokens routed to this expert, " + Tokens, input: Tokens, shape: Tokens, children:
                            [
                                M("w1", "Linear", Routed, input: Tokens),
                                M("act_fn", "{hidden_act} activation", Routed, input: Routed, elementwise: true),
                                M("w3", "Linear", Routed, input: Tokens),
                                M("w2", "Linear", Tokens, input: Routed),
                            ])),
                        ]),
                    ])),
                    M("norm", "MixtralRMSNorm", Hidden, input: Hidden),
                ]),
                M("lm_head", "Linear", "[batch, seq, {vocab_size}]", input: Hidden),
            ]);
    }

    private static ArchitectureTemplate Phi()
    {
        const string Intermediate = "[batch, seq, {intermediate_size}]";
        return new(
            "phi",
            "Phi",
            null,
            ["num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "vocab_size"],
            ["num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size"],
            values =>
            {
                DeriveAttention(values);
                values.Default("hidden_act", "gelu_new");
            },
            RootOutput("{num_hidden_layers}", KeyValue),
            [
                M("model", "PhiModel", input: Ids, tuple: [new(0, "LastHiddenState", "the hidden states after final_layernorm, " + Hidden, Hidden), Cache(1, "{num_hidden_layers}", KeyValue)], children:
                [
                    M("embed_tokens", "Embedding", Hidden, input: Ids),
                    M("embed_dropout", "Dropout", Hidden, input: Hidden, elementwise: true),
                    L("layers", "num_hidden_layers", M("layers", "PhiDecoderLayer", input: Hidden, tuple: [new(0, "HiddenStates", "the residual stream after the layer, " + Hidden, Hidden), Present(1)], children:
                    [
                        M("input_layernorm", "LayerNorm", Hidden, input: Hidden),
                        SelfAttention("Phi", "dense"),
                        M("resid_dropout", "Dropout", Hidden, input: Hidden, elementwise: true),
                        M("mlp", "PhiMLP", Hidden, input: Hidden, children:
                        [
                            M("fc1", "Linear", Intermediate, input: Hidden),
                            M("activation_fn", "{hidden_act} activation", Intermediate, input: Intermediate, elementwise: true),
                            M("fc2", "Linear", Hidden, input: Intermediate),
                        ]),
                    ])),
                    M("final_layernorm", "LayerNorm", Hidden, input: Hidden),
                ]),
                M("lm_head", "Linear", "[batch, seq, {vocab_size}]", input: Hidden),
            ]);
    }

    /// <summary>Attention sizes of the Llama-shaped families: grouped key/value heads and the head width.</summary>
    private static void DeriveAttention(ConfigValues values)
    {
        values.Default("num_key_value_heads", values["num_attention_heads"]!);
        values.Default("hidden_act", "silu");
        values.Default("head_dim", values.Long("hidden_size")!.Value / values.Long("num_attention_heads")!.Value);
        values.Set("q_dim", values.Long("num_attention_heads")!.Value * values.Long("head_dim")!.Value);
        values.Set("kv_dim", values.Long("num_key_value_heads")!.Value * values.Long("head_dim")!.Value);
    }

    /// <summary>
    /// HuggingFace 4.36's eager attention with <c>output_attentions</c>: (output, probabilities, present). The rotary
    /// embedding has no <c>Input</c> shape: its first argument only lends a dtype and device, so no width is checked.
    /// </summary>
    private static ModuleTemplate SelfAttention(string classPrefix, string outputProjection)
    {
        const string Probabilities = "[batch, {num_attention_heads}, seq, past+seq]";
        const string Angles = "[batch, seq, {head_dim}]";
        return M("self_attn", classPrefix + "Attention", input: Hidden, tuple:
        [
            new(0, "Output", "the attention output after " + outputProjection + ", " + Hidden, Hidden),
            new(1, "Weights", "the attention probabilities, " + Probabilities, Probabilities),
            Present(2),
        ], children:
        [
            M("q_proj", "Linear", "[batch, seq, {q_dim}]", input: Hidden),
            M("k_proj", "Linear", "[batch, seq, {kv_dim}]", input: Hidden),
            M("v_proj", "Linear", "[batch, seq, {kv_dim}]", input: Hidden),
            M("rotary_emb", classPrefix + "RotaryEmbedding", tuple: [new(0, "Cos", "cos at each row's position ids, " + Angles, Angles), new(1, "Sin", "sin at each row's position ids, " + Angles, Angles)]),
            M(outputProjection, "Linear", Hidden, input: "[batch, seq, {q_dim}]"),
        ]);
    }

    private static TupleElement Present(int index) =>
        new(index, "Present", "the (key, value) of this layer, each " + KeyValue, Pair(KeyValue));

    private static TupleElement Cache(int index, string layers, string keyValue) =>
        new(index, "PastKeyValues", "the key/value cache: " + layers + " × (key, value)", layers + " × " + Pair(keyValue));

    private static TupleElement[] RootOutput(string layers, string keyValue) =>
        [new(0, "Logits", "[batch, seq, {vocab_size}]", "[batch, seq, {vocab_size}]"), Cache(1, layers, keyValue)];

    private static string Pair(string shape) => "(" + shape + ", " + shape + ")";

    private static ModuleTemplate M(string name, string kind, string? output = null, TupleElement[]? tuple = null, ModuleTemplate[]? children = null,
        string? input = null, string? shape = null, bool elementwise = false) =>
        new(name, kind, output, tuple, children, input: input, shape: shape, elementwise: elementwise);

    private static ModuleTemplate L(string name, string countKey, ModuleTemplate element) =>
        new(name, "ModuleList", countKey: countKey, element: element);
}
