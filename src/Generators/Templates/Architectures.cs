using System.Collections.Generic;
using System.Linq;

namespace NnSight.Generators.Templates;

/// <summary>
/// The architectures the generator knows, by <c>model_type</c>. Module names, order and output structure follow the
/// TorchSharp implementations in NnSight.Models (HuggingFace's names); shapes are written in config terms.
/// </summary>
internal static class Architectures
{
    private const string Hidden = "[batch, seq, {hidden_size}]";

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
        var present = new TupleElement(1, "Present", "the (key, value) of this layer, each [batch, {n_head}, positions, {head_dim}]", IsTuple: true);
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
            RootOutput("{n_layer}"),
            [
                M("transformer", "GPT2Model", tuple: [new(0, "LastHiddenState", "the hidden states after ln_f, " + Width), Cache(1, "{n_layer}")], children:
                [
                    M("wte", "Embedding", Width),
                    M("wpe", "Embedding", Width),
                    M("drop", "Dropout", Width),
                    L("h", "n_layer", M("h", "GPT2Block", tuple: [new(0, "HiddenStates", "the residual stream after the block, " + Width), present], children:
                    [
                        M("ln_1", "LayerNorm", Width),
                        M("attn", "GPT2Attention", tuple: [new(0, "Output", "the attention output after c_proj, " + Width), present], children:
                        [
                            M("c_attn", "Linear (HuggingFace Conv1D)", "[batch, seq, {qkv}]"),
                            M("attn_dropout", "Dropout", "the attention probabilities, [batch, {n_head}, seq, positions]"),
                            M("c_proj", "Linear (HuggingFace Conv1D)", Width),
                            M("resid_dropout", "Dropout", Width),
                        ]),
                        M("ln_2", "LayerNorm", Width),
                        M("mlp", "GPT2MLP", Width, children:
                        [
                            M("c_fc", "Linear (HuggingFace Conv1D)", "[batch, seq, {inner}]"),
                            M("act", "{activation_function} activation", "[batch, seq, {inner}]"),
                            M("c_proj", "Linear (HuggingFace Conv1D)", Width),
                            M("dropout", "Dropout", Width),
                        ]),
                    ])),
                    M("ln_f", "LayerNorm", Width),
                ]),
                M("lm_head", "Linear", "[batch, seq, {vocab_size}]"),
            ]);
    }

    private static ArchitectureTemplate Llama(string modelType)
    {
        var prefix = modelType switch { "llama" => "Llama", "mistral" => "Mistral", _ => "Qwen2" };
        return new(
            modelType,
            prefix,
            $"NnSight.Models.Llama.{prefix}Config",
            ["num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "vocab_size"],
            ["num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size"],
            DeriveAttention,
            RootOutput("{num_hidden_layers}"),
            [
                M("model", prefix + "Model", tuple: [new(0, "LastHiddenState", "the hidden states after norm, " + Hidden), Cache(1, "{num_hidden_layers}")], children:
                [
                    M("embed_tokens", "Embedding", Hidden),
                    L("layers", "num_hidden_layers", M("layers", prefix + "DecoderLayer", tuple: [new(0, "HiddenStates", "the residual stream after the layer, " + Hidden), Present(1)], children:
                    [
                        M("input_layernorm", prefix + "RMSNorm", Hidden),
                        SelfAttention(prefix, "o_proj"),
                        M("post_attention_layernorm", prefix + "RMSNorm", Hidden),
                        M("mlp", prefix + "MLP", Hidden, children:
                        [
                            M("gate_proj", "Linear", "[batch, seq, {intermediate_size}]"),
                            M("act_fn", "{hidden_act} activation", "[batch, seq, {intermediate_size}]"),
                            M("up_proj", "Linear", "[batch, seq, {intermediate_size}]"),
                            M("down_proj", "Linear", Hidden),
                        ]),
                    ])),
                    M("norm", prefix + "RMSNorm", Hidden),
                ]),
                M("lm_head", "Linear", "[batch, seq, {vocab_size}]"),
            ]);
    }

    private static ArchitectureTemplate Mixtral()
    {
        const string Tokens = "[batch·seq, {hidden_size}]";
        return new(
            "mixtral",
            "Mixtral",
            null,
            ["num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "vocab_size", "num_local_experts"],
            ["num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size", "num_local_experts"],
            DeriveAttention,
            RootOutput("{num_hidden_layers}"),
            [
                M("model", "MixtralModel", tuple: [new(0, "LastHiddenState", "the hidden states after norm, " + Hidden), Cache(1, "{num_hidden_layers}")], children:
                [
                    M("embed_tokens", "Embedding", Hidden),
                    L("layers", "num_hidden_layers", M("layers", "MixtralDecoderLayer", tuple: [new(0, "HiddenStates", "the residual stream after the layer, " + Hidden), Present(1)], children:
                    [
                        M("input_layernorm", "MixtralRMSNorm", Hidden),
                        SelfAttention("Mixtral", "o_proj"),
                        M("post_attention_layernorm", "MixtralRMSNorm", Hidden),
                        M("block_sparse_moe", "MixtralSparseMoeBlock", tuple: [new(0, "Output", "the mixture's output, " + Hidden), new(1, "RouterLogits", "[batch·seq, {num_local_experts}]")], children:
                        [
                            M("gate", "Linear", "the router logits, [batch·seq, {num_local_experts}]"),
                            L("experts", "num_local_experts", M("experts", "MixtralBlockSparseTop2MLP", "the tokens routed to this expert, " + Tokens, children:
                            [
                                M("w1", "Linear", "[tokens, {intermediate_size}]"),
                                M("act_fn", "{hidden_act} activation", "[tokens, {intermediate_size}]"),
                                M("w3", "Linear", "[tokens, {intermediate_size}]"),
                                M("w2", "Linear", "[tokens, {hidden_size}]"),
                            ])),
                        ]),
                    ])),
                    M("norm", "MixtralRMSNorm", Hidden),
                ]),
                M("lm_head", "Linear", "[batch, seq, {vocab_size}]"),
            ]);
    }

    private static ArchitectureTemplate Phi() => new(
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
        RootOutput("{num_hidden_layers}"),
        [
            M("model", "PhiModel", tuple: [new(0, "LastHiddenState", "the hidden states after final_layernorm, " + Hidden), Cache(1, "{num_hidden_layers}")], children:
            [
                M("embed_tokens", "Embedding", Hidden),
                M("embed_dropout", "Dropout", Hidden),
                L("layers", "num_hidden_layers", M("layers", "PhiDecoderLayer", tuple: [new(0, "HiddenStates", "the residual stream after the layer, " + Hidden), Present(1)], children:
                [
                    M("input_layernorm", "LayerNorm", Hidden),
                    SelfAttention("Phi", "dense"),
                    M("resid_dropout", "Dropout", Hidden),
                    M("mlp", "PhiMLP", Hidden, children:
                    [
                        M("fc1", "Linear", "[batch, seq, {intermediate_size}]"),
                        M("activation_fn", "{hidden_act} activation", "[batch, seq, {intermediate_size}]"),
                        M("fc2", "Linear", Hidden),
                    ]),
                ])),
                M("final_layernorm", "LayerNorm", Hidden),
            ]),
            M("lm_head", "Linear", "[batch, seq, {vocab_size}]"),
        ]);

    /// <summary>Attention sizes of the Llama-shaped families: grouped key/value heads and the head width.</summary>
    private static void DeriveAttention(ConfigValues values)
    {
        values.Default("num_key_value_heads", values["num_attention_heads"]!);
        values.Default("hidden_act", "silu");
        values.Default("head_dim", values.Long("hidden_size")!.Value / values.Long("num_attention_heads")!.Value);
        values.Set("q_dim", values.Long("num_attention_heads")!.Value * values.Long("head_dim")!.Value);
        values.Set("kv_dim", values.Long("num_key_value_heads")!.Value * values.Long("head_dim")!.Value);
    }

    /// <summary>HuggingFace 4.36's eager attention with <c>output_attentions</c>: (output, probabilities, present).</summary>
    private static ModuleTemplate SelfAttention(string classPrefix, string outputProjection) =>
        M("self_attn", classPrefix + "Attention", tuple:
        [
            new(0, "Output", "the attention output after " + outputProjection + ", " + Hidden),
            new(1, "Weights", "the attention probabilities, [batch, {num_attention_heads}, seq, positions]"),
            Present(2),
        ], children:
        [
            M("q_proj", "Linear", "[batch, seq, {q_dim}]"),
            M("k_proj", "Linear", "[batch, seq, {kv_dim}]"),
            M("v_proj", "Linear", "[batch, seq, {kv_dim}]"),
            M("rotary_emb", classPrefix + "RotaryEmbedding", tuple: [new(0, "Cos", "cos at each row's position ids, [batch, seq, {head_dim}]"), new(1, "Sin", "sin at each row's position ids, [batch, seq, {head_dim}]")]),
            M(outputProjection, "Linear", Hidden),
        ]);

    private static TupleElement Present(int index) =>
        new(index, "Present", "the (key, value) of this layer, each [batch, {num_key_value_heads}, positions, {head_dim}]", IsTuple: true);

    private static TupleElement Cache(int index, string layers) =>
        new(index, "PastKeyValues", "the key/value cache: " + layers + " × (key, value)", IsTuple: true);

    private static TupleElement[] RootOutput(string layers) =>
        [new(0, "Logits", "[batch, seq, {vocab_size}]"), Cache(1, layers)];

    private static ModuleTemplate M(string name, string kind, string? output = null, TupleElement[]? tuple = null, ModuleTemplate[]? children = null) =>
        new(name, kind, output, tuple, children);

    private static ModuleTemplate L(string name, string countKey, ModuleTemplate element) =>
        new(name, "ModuleList", countKey: countKey, element: element);
}
