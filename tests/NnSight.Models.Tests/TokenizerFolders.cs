using System.Text;
using System.Text.Json;
using NnSight.Models.Tokenization;

namespace NnSight.Models.Tests;

/// <summary>
/// Writes small tokenizer files of each format a model folder can hold, with vocabularies chosen so that the expected
/// ids can be worked out by hand.
/// </summary>
internal static class TokenizerFolders
{
    /// <summary>
    /// A GPT-2-style <c>vocab.json</c> + <c>merges.txt</c>: the 256 byte symbols of byte-level BPE, then merges that
    /// build each word of <paramref name="mergedWords"/> left to right, then <c>&lt;|endoftext|&gt;</c>.
    /// </summary>
    public static void WriteVocabularyAndMerges(string folder, IReadOnlyList<string> mergedWords)
    {
        var (vocabulary, merges) = ByteLevelVocabulary(mergedWords);
        vocabulary["<|endoftext|>"] = vocabulary.Count;
        File.WriteAllText(Path.Combine(folder, ModelTokenizer.VocabularyFileName), JsonSerializer.Serialize(vocabulary));
        File.WriteAllLines(Path.Combine(folder, ModelTokenizer.MergesFileName), ["#version: 0.2", .. merges]);
    }

    /// <summary>
    /// A byte-level BPE <c>tokenizer.json</c> like Qwen2's or Llama 3's: the vocabulary and merges of
    /// <see cref="ByteLevelVocabulary"/>, <paramref name="addedTokens"/> after them, a Split pre-tokenizer with
    /// <paramref name="pattern"/>, an optional normalizer and an optional template that puts a token first.
    /// </summary>
    public static void WriteTokenizerJson(string folder, IReadOnlyList<string> mergedWords, string pattern, IReadOnlyList<string> addedTokens,
        bool mergesAsPairs = false, string? normalizer = null, string? templateFirstToken = null)
    {
        var (vocabulary, merges) = ByteLevelVocabulary(mergedWords);
        var added = addedTokens.Select((token, index) => new { id = vocabulary.Count + index, content = token, special = true }).ToList();
        object? postProcessor = templateFirstToken is null
            ? new { type = "ByteLevel" }
            : new
            {
                type = "Sequence",
                processors = new object[]
                {
                    new { type = "ByteLevel" },
                    new { type = "TemplateProcessing", single = new object[] { new { SpecialToken = new { id = templateFirstToken, type_id = 0 } }, new { Sequence = new { id = "A", type_id = 0 } } } },
                },
            };
        var document = new
        {
            version = "1.0",
            added_tokens = added,
            normalizer = normalizer is null ? null : new { type = normalizer },
            pre_tokenizer = new
            {
                type = "Sequence",
                pretokenizers = new object[]
                {
                    new { type = "Split", pattern = new { Regex = pattern }, behavior = "Isolated", invert = false },
                    new { type = "ByteLevel", add_prefix_space = false, trim_offsets = false, use_regex = false },
                },
            },
            post_processor = postProcessor,
            decoder = new { type = "ByteLevel" },
            model = new
            {
                type = "BPE",
                vocab = vocabulary,
                merges = mergesAsPairs ? merges.Select(merge => (object)merge.Split(' ')).ToList() : merges.Cast<object>().ToList(),
            },
        };
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), JsonSerializer.Serialize(document));
    }

    /// <summary>A Meta tiktoken <c>tokenizer.model</c>: every byte at its own rank, then <paramref name="merged"/> in order.</summary>
    public static void WriteTiktokenRanks(string folder, IReadOnlyList<string> merged)
    {
        var tokens = Enumerable.Range(0, 256).Select(value => new[] { (byte)value }).Concat(merged.Select(Encoding.UTF8.GetBytes));
        File.WriteAllLines(Path.Combine(folder, "tokenizer.model"), tokens.Select((bytes, rank) => $"{Convert.ToBase64String(bytes)} {rank}"));
    }

    /// <summary>
    /// A SentencePiece BPE <c>tokenizer.model</c> (a serialized <c>ModelProto</c>) holding the pieces of
    /// <see cref="SentencePiecePieces"/>. The trainer and normalizer specs keep SentencePiece's defaults (dummy prefix,
    /// escaped whitespace) apart from the BPE model type, <paramref name="byteFallback"/> and, when
    /// <paramref name="keepExtraWhitespace"/>, <c>remove_extra_whitespaces: false</c> (as Llama's model has it).
    /// </summary>
    public static void WriteSentencePieceModel(string folder, IReadOnlyList<(string Piece, float Score)> pieces, bool byteFallback = false,
        bool keepExtraWhitespace = false)
    {
        const int BpeModelType = 2;
        using var model = new MemoryStream();
        foreach (var (piece, score, type) in SentencePiecePieces(pieces, byteFallback))
        {
            WriteMessage(model, 1, message =>
            {
                WriteBytes(message, 1, Encoding.UTF8.GetBytes(piece));
                WriteTag(message, 2, 5);
                message.Write(BitConverter.GetBytes(score));
                WriteTag(message, 3, 0);
                WriteVarint(message, (ulong)type);
            });
        }
        WriteMessage(model, 2, trainer =>
        {
            WriteTag(trainer, 3, 0);
            WriteVarint(trainer, BpeModelType);
            if (byteFallback)
            {
                WriteTag(trainer, 35, 0);
                WriteVarint(trainer, 1);
            }
        });
        WriteMessage(model, 3, normalizer =>
        {
            WriteBytes(normalizer, 1, Encoding.UTF8.GetBytes("identity"));
            if (keepExtraWhitespace)
            {
                WriteTag(normalizer, 4, 0);
                WriteVarint(normalizer, 0);
            }
        });
        File.WriteAllBytes(Path.Combine(folder, "tokenizer.model"), model.ToArray());
    }

    /// <summary>
    /// Every piece of a Llama-style SentencePiece model in id order with its score and type (1 normal, 2 unknown,
    /// 3 control, 6 byte): <c>&lt;unk&gt;</c>, <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, with <paramref name="byteFallback"/>
    /// the 256 pieces <c>&lt;0x00&gt;</c>..<c>&lt;0xFF&gt;</c>, then <paramref name="pieces"/>.
    /// </summary>
    public static List<(string Piece, float Score, int Type)> SentencePiecePieces(IReadOnlyList<(string Piece, float Score)> pieces, bool byteFallback)
    {
        const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;
        var all = new List<(string, float, int)> { ("<unk>", 0, Unknown), ("<s>", 0, Control), ("</s>", 0, Control) };
        if (byteFallback)
        {
            all.AddRange(Enumerable.Range(0, 256).Select(value => ($"<0x{value:X2}>", 0f, Byte)));
        }
        all.AddRange(pieces.Select(piece => (piece.Piece, piece.Score, Normal)));
        return all;
    }

    /// <summary>
    /// A SentencePiece-style BPE <c>tokenizer.json</c> (Llama 2's kind): <paramref name="vocabulary"/> in id order,
    /// <paramref name="merges"/> in rank order (as <c>"a b"</c> strings, or <c>["a", "b"]</c> pairs), <c>&lt;unk&gt;</c>,
    /// <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c> as added tokens, and the given normalizer, pre-tokenizer, decoder and
    /// post-processor (JSON objects or null).
    /// </summary>
    public static void WriteSentencePieceTokenizerJson(string folder, IReadOnlyList<string> vocabulary, IReadOnlyList<(string Left, string Right)> merges,
        object? normalizer, object? preTokenizer, object? decoder, object? postProcessor, bool byteFallback = true, bool fuseUnknown = true,
        bool mergesAsPairs = false, IReadOnlyList<object>? addedTokens = null)
    {
        var document = new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = addedTokens ?? new[] { "<unk>", "<s>", "</s>" }.Select(token => AddedToken(vocabulary, token)).ToList(),
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = postProcessor,
            ["decoder"] = decoder,
            ["model"] = new Dictionary<string, object?>
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = "<unk>",
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = fuseUnknown,
                ["byte_fallback"] = byteFallback,
                ["ignore_merges"] = false,
                ["vocab"] = vocabulary.Select((token, id) => (token, id)).ToDictionary(entry => entry.token, entry => entry.id),
                ["merges"] = mergesAsPairs
                    ? merges.Select(merge => (object)new[] { merge.Left, merge.Right }).ToList()
                    : merges.Select(merge => (object)$"{merge.Left} {merge.Right}").ToList(),
            },
        };
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), JsonSerializer.Serialize(document));
    }

    /// <summary>An <c>added_tokens</c> entry for <paramref name="token"/> at its id in <paramref name="vocabulary"/>.</summary>
    public static object AddedToken(IReadOnlyList<string> vocabulary, string token, bool special = true, bool normalized = false) => new
    {
        id = vocabulary.ToList().IndexOf(token),
        content = token,
        single_word = false,
        lstrip = false,
        rstrip = false,
        normalized,
        special,
    };

    /// <summary>Llama 2's normalizer (transformers' legacy conversion): <c>Prepend("▁")</c>, then spaces to <c>▁</c>.</summary>
    public static object LegacyLlamaNormalizer => new
    {
        type = "Sequence",
        normalizers = new object[] { new { type = "Prepend", prepend = "▁" }, new { type = "Replace", pattern = new { String = " " }, content = "▁" } },
    };

    /// <summary>Llama 2's decoder: <c>▁</c> to spaces, byte tokens to UTF-8, one string, one leading space dropped.</summary>
    public static object LlamaDecoder => new
    {
        type = "Sequence",
        decoders = new object[]
        {
            new { type = "Replace", pattern = new { String = "▁" }, content = " " },
            new { type = "ByteFallback" },
            new { type = "Fuse" },
            new { type = "Strip", content = " ", start = 1, stop = 0 },
        },
    };

    /// <summary>A <c>Metaspace</c> pre-tokenizer (or decoder) as tokenizers 0.19 and later write it.</summary>
    public static object Metaspace(string prependScheme, bool split) => new { type = "Metaspace", replacement = "▁", prepend_scheme = prependScheme, split };

    /// <summary>A <c>TemplateProcessing</c> post-processor putting <paramref name="before"/> and
    /// <paramref name="after"/> around a single sequence, ids from <paramref name="vocabulary"/>.</summary>
    public static object Template(IReadOnlyList<string> vocabulary, IReadOnlyList<string> before, IReadOnlyList<string> after) => new
    {
        type = "TemplateProcessing",
        single = before.Select(token => (object)new { SpecialToken = new { id = token, type_id = 0 } })
            .Append(new { Sequence = new { id = "A", type_id = 0 } })
            .Concat(after.Select(token => (object)new { SpecialToken = new { id = token, type_id = 0 } }))
            .ToList(),
        pair = Array.Empty<object>(),
        special_tokens = before.Concat(after).Distinct().ToDictionary(token => token, token => (object)new
        {
            id = token,
            ids = new[] { vocabulary.ToList().IndexOf(token) },
            tokens = new[] { token },
        }),
    };

    /// <summary>The 256 byte symbols of byte-level BPE, then merges that build each word left to right.</summary>
    public static (Dictionary<string, int> Vocabulary, List<string> Merges) ByteLevelVocabulary(IReadOnlyList<string> mergedWords)
    {
        var byteSymbols = ByteLevelAlphabet();
        var vocabulary = new Dictionary<string, int>();
        foreach (var symbol in byteSymbols)
        {
            vocabulary[symbol] = vocabulary.Count;
        }
        var merges = new List<string>();
        foreach (var word in mergedWords)
        {
            var symbols = Encoding.UTF8.GetBytes(word).Select(b => byteSymbols[b]).ToList();
            var merged = symbols[0];
            foreach (var next in symbols.Skip(1))
            {
                merges.Add($"{merged} {next}");
                merged += next;
                vocabulary.TryAdd(merged, vocabulary.Count);
            }
        }
        return (vocabulary, merges);
    }

    /// <summary>GPT-2's map of bytes to printable characters (<c>bytes_to_unicode</c>).</summary>
    public static string[] ByteLevelAlphabet()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToHashSet();
        var symbols = new string[256];
        var extra = 0;
        for (var b = 0; b < 256; b++)
        {
            symbols[b] = printable.Contains(b) ? ((char)b).ToString() : ((char)(256 + extra++)).ToString();
        }
        return symbols;
    }

    private static void WriteMessage(Stream stream, int field, Action<Stream> write)
    {
        using var body = new MemoryStream();
        write(body);
        WriteBytes(stream, field, body.ToArray());
    }

    private static void WriteBytes(Stream stream, int field, byte[] bytes)
    {
        WriteTag(stream, field, 2);
        WriteVarint(stream, (ulong)bytes.Length);
        stream.Write(bytes);
    }

    private static void WriteTag(Stream stream, int field, int wireType) => WriteVarint(stream, (ulong)((field << 3) | wireType));

    private static void WriteVarint(Stream stream, ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        stream.WriteByte((byte)value);
    }
}
