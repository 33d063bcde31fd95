using System.Globalization;
using System.Text;

namespace NnSight.Models.Tokenization;

/// <summary>
/// HuggingFace's <c>BPE</c> model over characters, as <c>tokenizers</c> runs it: each character of a word is looked up
/// in the vocabulary; a missing one becomes its UTF-8 bytes as <c>&lt;0xNN&gt;</c> tokens (byte fallback) or the
/// unknown token (fused with the unknown token before it when asked); then the adjacent pair of lowest merge rank is
/// merged, leftmost first among equal ranks, until no pair has a merge.
/// </summary>
internal sealed class BpeModel
{
    private readonly Dictionary<string, int> _vocabulary;
    private readonly Dictionary<int, string> _tokens;
    private readonly Dictionary<(int Left, int Right), (int Rank, int Merged)> _merges;

    /// <summary>The id of <c>&lt;0xNN&gt;</c> for each byte, or -1 where the vocabulary lacks it.</summary>
    private readonly int[] _byteIds;

    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _characters;
    private readonly int? _unknownId;
    private readonly string _source;

    /// <summary>Builds the merge table; <paramref name="merges"/> are in rank order (a pair listed twice keeps its
    /// last rank, as <c>tokenizers</c>' map does). <paramref name="source"/> names the file in error messages.</summary>
    /// <exception cref="ConfigException">A merge names a token, or makes one, that is not in the vocabulary.</exception>
    public BpeModel(string source, IReadOnlyDictionary<string, int> vocabulary, IReadOnlyList<(string Left, string Right)> merges, BpeModelOptions options)
    {
        _source = source;
        _vocabulary = new Dictionary<string, int>(vocabulary, StringComparer.Ordinal);
        _characters = _vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();
        _tokens = [];
        foreach (var (token, id) in _vocabulary)
        {
            _tokens[id] = token;
        }
        _merges = new Dictionary<(int, int), (int, int)>(merges.Count);
        for (var rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            _merges[(Id(left, rank, "uses"), Id(right, rank, "uses"))] = (rank, Id(left + right, rank, "makes"));
        }
        _byteIds = new int[256];
        for (var value = 0; value < 256; value++)
        {
            _byteIds[value] = _vocabulary.TryGetValue(ByteToken((byte)value), out var id) ? id : -1;
        }
        Options = options;
        _unknownId = options.UnknownToken is { } unknown && _vocabulary.TryGetValue(unknown, out var unknownId) ? unknownId : null;

        int Id(string token, int rank, string verb) => _vocabulary.TryGetValue(token, out var id)
            ? id
            : throw new ConfigException($"{source}: model.merges (rank {rank}) {verb} \"{token}\", which is not in model.vocab.", "model.merges", token);
    }

    /// <summary>How words are split: unknown token, fusing, byte fallback, ignoring merges.</summary>
    public BpeModelOptions Options { get; }

    /// <summary>The vocabulary, token to id.</summary>
    public IReadOnlyDictionary<string, int> Vocabulary => _vocabulary;

    /// <summary>The token of <paramref name="id"/> in the vocabulary, or null.</summary>
    public string? TokenOf(int id) => _tokens.GetValueOrDefault(id);

    /// <summary>A byte's fallback token: <c>&lt;0x41&gt;</c> for 0x41.</summary>
    public static string ByteToken(byte value) => $"<0x{value.ToString("X2", CultureInfo.InvariantCulture)}>";

    /// <summary>Appends the tokens of <paramref name="word"/> to <paramref name="output"/>, each with its range of
    /// characters in <paramref name="word"/> moved by <paramref name="offset"/>.</summary>
    /// <exception cref="ConfigException">A character needs the unknown token and the vocabulary lacks it.</exception>
    public void Tokenize(string word, int offset, List<(int Id, int Start, int End)> output)
    {
        if (word.Length == 0)
        {
            return;
        }
        if (Options.IgnoreMerges && _vocabulary.TryGetValue(word, out var whole))
        {
            output.Add((whole, offset, offset + word.Length));
            return;
        }
        var symbols = InitialSymbols(word);
        MergeAll(symbols);
        foreach (var symbol in symbols)
        {
            if (!symbol.Removed)
            {
                output.Add((symbol.Id, offset + symbol.Start, offset + symbol.End));
            }
        }
    }

    /// <summary>One symbol per character (or per byte of a character the vocabulary lacks), as <c>merge_word</c>.</summary>
    private Symbol[] InitialSymbols(string word)
    {
        var symbols = new List<Symbol>(word.Length);
        (int Id, int Start, int End)? unknown = null;
        Span<byte> bytes = stackalloc byte[4];
        for (var start = 0; start < word.Length;)
        {
            // A lone surrogate (which UTF-8 text cannot hold) reads as U+FFFD.
            Rune.DecodeFromUtf16(word.AsSpan(start), out var rune, out var length);
            var end = start + length;
            if (_characters.TryGetValue(word.AsSpan(start, end - start), out var id))
            {
                if (unknown is { } pending)
                {
                    Add(pending.Id, pending.Start, pending.End);
                    unknown = null;
                }
                Add(id, start, end);
            }
            else if (!TryAddBytes(rune, start, end, bytes))
            {
                if (Options.UnknownToken is { } unknownToken)
                {
                    var unknownId = _unknownId ?? throw new ConfigException(
                        $"{_source}: \"{word[start..end]}\" has no token and model.unk_token \"{unknownToken}\" is not in model.vocab.",
                        "model.unk_token", unknownToken);
                    if (unknown is { } pending)
                    {
                        if (Options.FuseUnknown)
                        {
                            unknown = (pending.Id, pending.Start, end);
                        }
                        else
                        {
                            Add(pending.Id, pending.Start, pending.End);
                            unknown = (unknownId, start, end);
                        }
                    }
                    else
                    {
                        unknown = (unknownId, start, end);
                    }
                }
                // Without an unknown token the character is dropped, as tokenizers does.
            }
            start = end;
        }
        if (unknown is { } last)
        {
            Add(last.Id, last.Start, last.End);
        }
        return [.. symbols];

        void Add(int id, int start, int end) =>
            symbols.Add(new Symbol { Id = id, Start = start, End = end, Prev = symbols.Count - 1, Next = -1 });

        // The bytes go in only when every one has a token. Like tokenizers, they go in without first emitting an
        // unknown token still pending from an earlier character.
        bool TryAddBytes(Rune rune, int start, int end, Span<byte> buffer)
        {
            if (!Options.ByteFallback)
            {
                return false;
            }
            var count = rune.EncodeToUtf8(buffer);
            for (var index = 0; index < count; index++)
            {
                if (_byteIds[buffer[index]] < 0)
                {
                    return false;
                }
            }
            for (var index = 0; index < count; index++)
            {
                // Every byte token of the character carries the character's range.
                Add(_byteIds[buffer[index]], start, end);
            }
            return true;
        }
    }

    /// <summary><c>Word::merge_all</c>: a queue of (rank, position), lowest first; an entry whose pair has changed
    /// since it was queued is dropped.</summary>
    private void MergeAll(Symbol[] symbols)
    {
        for (var index = 0; index + 1 < symbols.Length; index++)
        {
            symbols[index].Next = index + 1;
        }
        var queue = new PriorityQueue<(int Position, int Merged), (int Rank, int Position)>(symbols.Length);
        for (var index = 0; index + 1 < symbols.Length; index++)
        {
            Enqueue(index, index + 1);
        }
        while (queue.TryDequeue(out var top, out _))
        {
            ref var left = ref symbols[top.Position];
            if (left.Removed || left.Next < 0)
            {
                continue;
            }
            ref var right = ref symbols[left.Next];
            if (!_merges.TryGetValue((left.Id, right.Id), out var merge) || merge.Merged != top.Merged)
            {
                continue;
            }
            left.Id = top.Merged;
            left.End = right.End;
            left.Next = right.Next;
            right.Removed = true;
            if (left.Next >= 0)
            {
                symbols[left.Next].Prev = top.Position;
            }
            if (left.Prev >= 0)
            {
                Enqueue(left.Prev, top.Position);
            }
            if (left.Next >= 0)
            {
                Enqueue(top.Position, left.Next);
            }
        }

        void Enqueue(int leftIndex, int rightIndex)
        {
            if (_merges.TryGetValue((symbols[leftIndex].Id, symbols[rightIndex].Id), out var merge))
            {
                queue.Enqueue((leftIndex, merge.Merged), (merge.Rank, leftIndex));
            }
        }
    }

    private struct Symbol
    {
        public int Id;
        public int Start;
        public int End;
        public int Prev;
        public int Next;
        public bool Removed;
    }
}

/// <summary>The options of a <c>BPE</c> model in <c>tokenizer.json</c> that change how a word is split.</summary>
/// <param name="UnknownToken"><c>unk_token</c>: the token of a character with no token, or null to drop it.</param>
/// <param name="FuseUnknown"><c>fuse_unk</c>: consecutive unknown characters make one unknown token.</param>
/// <param name="ByteFallback"><c>byte_fallback</c>: a character with no token becomes its UTF-8 bytes' tokens.</param>
/// <param name="IgnoreMerges"><c>ignore_merges</c>: a word that is itself a token is that token.</param>
internal sealed record BpeModelOptions(string? UnknownToken, bool FuseUnknown, bool ByteFallback, bool IgnoreMerges);
