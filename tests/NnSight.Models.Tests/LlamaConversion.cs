namespace NnSight.Models.Tests;

/// <summary>
/// What transformers' <c>LlamaConverter</c> does to a SentencePiece BPE model to write its <c>tokenizer.json</c>: the
/// vocabulary is the pieces in id order; the merges (<c>generate_merges</c> with the piece scores) are, for every
/// piece, each split into two pieces that are both in the vocabulary (a piece's splits ordered by the ids of their
/// halves), all of them then sorted by the piece's score, then the left half's length, then the right half's length,
/// highest first and otherwise in that order. Lengths count characters as Python does (code points).
/// </summary>
internal static class LlamaConversion
{
    public static (List<string> Vocabulary, List<(string Left, string Right)> Merges) Convert(IReadOnlyList<(string Piece, float Score, int Type)> pieces)
    {
        var vocabulary = pieces.Select(piece => piece.Piece).ToList();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var id = 0; id < vocabulary.Count; id++)
        {
            ids[vocabulary[id]] = id;
        }
        var merges = new List<(string Left, string Right, float Score)>();
        foreach (var (piece, score, _) in pieces)
        {
            var splits = new List<(string Left, string Right, float Score)>();
            foreach (var index in CodePointBoundaries(piece))
            {
                var (left, right) = (piece[..index], piece[index..]);
                if (ids.ContainsKey(left) && ids.ContainsKey(right))
                {
                    splits.Add((left, right, score));
                }
            }
            merges.AddRange(splits.OrderBy(split => ids[split.Left]).ThenBy(split => ids[split.Right]));
        }
        var ranked = merges.OrderByDescending(merge => merge.Score)
            .ThenByDescending(merge => CodePoints(merge.Left))
            .ThenByDescending(merge => CodePoints(merge.Right))
            .Select(merge => (merge.Left, merge.Right))
            .ToList();
        return (vocabulary, ranked);
    }

    /// <summary>The UTF-16 indices that split <paramref name="text"/> between code points, first and last excluded.</summary>
    private static IEnumerable<int> CodePointBoundaries(string text)
    {
        for (var index = 1; index < text.Length; index++)
        {
            if (!char.IsLowSurrogate(text[index]))
            {
                yield return index;
            }
        }
    }

    private static int CodePoints(string text) => text.EnumerateRunes().Count();
}
