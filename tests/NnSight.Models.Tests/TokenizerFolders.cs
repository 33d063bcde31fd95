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
    /// A SentencePiece BPE <c>tokenizer.model</c> (a serialized <c>ModelProto</c>): <c>&lt;unk&gt;</c>, <c>&lt;s&gt;</c>,
    /// <c>&lt;/s&gt;</c>, then <paramref name="pieces"/> with their scores; the trainer and normalizer specs keep
    /// SentencePiece's defaults (dummy prefix, escaped whitespace) apart from the BPE model type.
    /// </summary>
    public static void WriteSentencePieceModel(string folder, IReadOnlyList<(string Piece, float Score)> pieces)
    {
        const int Normal = 1, Unknown = 2, Control = 3, BpeModelType = 2;
        using var model = new MemoryStream();
        var all = new (string Piece, float Score, int Type)[] { ("<unk>", 0, Unknown), ("<s>", 0, Control), ("</s>", 0, Control) }
            .Concat(pieces.Select(piece => (piece.Piece, piece.Score, Normal)));
        foreach (var (piece, score, type) in all)
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
        });
        WriteMessage(model, 3, normalizer => WriteBytes(normalizer, 1, Encoding.UTF8.GetBytes("identity")));
        File.WriteAllBytes(Path.Combine(folder, "tokenizer.model"), model.ToArray());
    }

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
