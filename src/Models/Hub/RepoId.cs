using System.Text.RegularExpressions;

namespace NnSight.Models.Hub;

/// <summary>
/// The hub's rules for a repository id, as huggingface_hub validates one: <c>name</c> or <c>namespace/name</c>, each
/// part of word characters, <c>-</c> and <c>.</c>, starting and ending with a word character, a name of at most 96
/// characters, no <c>--</c> or <c>..</c>, and not ending in <c>.git</c>. Absolute paths, <c>./</c> paths and paths with
/// more than one slash are never ids.
/// </summary>
internal static partial class RepoId
{
    /// <summary>Whether <paramref name="text"/> is a valid model repository id.</summary>
    public static bool IsValid(string text) =>
        text.Count(character => character == '/') <= 1
        && Pattern().IsMatch(text)
        && !text.Contains("--", StringComparison.Ordinal)
        && !text.Contains("..", StringComparison.Ordinal)
        && !text.EndsWith(".git", StringComparison.Ordinal);

    /// <summary>The cache folder of a model repository: <c>models--org--name</c>.</summary>
    public static string CacheFolderName(string repoId) => "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);

    /// <summary>Whether <paramref name="revision"/> is a full commit hash (40 lowercase hex digits).</summary>
    public static bool IsCommit(string revision) => CommitPattern().IsMatch(revision);

    [GeneratedRegex(@"^(\w[\w\-.]*\w/|\w/)?(\w[\w\-.]{0,94}\w|\w)$")]
    private static partial Regex Pattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();
}
