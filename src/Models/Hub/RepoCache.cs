using System.Text;
using NnSight.Serialization;

namespace NnSight.Models.Hub;

/// <summary>
/// One model repository's folder in the hub cache, in huggingface_hub's layout:
/// <c>models--org--name/refs/&lt;revision&gt;</c> holds the commit a branch or tag pointed to,
/// <c>blobs/&lt;etag&gt;</c> holds each file's content once (named by its sha256 for LFS files, its git blob sha1
/// otherwise), and <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> is a relative symbolic link to the blob (a copy where
/// the file system has no links). Locks are <c>.locks/models--org--name/&lt;etag&gt;.lock</c>, as Python's.
/// </summary>
internal sealed class RepoCache(string cacheDirectory, string repoId)
{
    /// <summary>The repository's folder.</summary>
    public string Folder { get; } = Path.Combine(cacheDirectory, RepoId.CacheFolderName(repoId));

    /// <summary>The folder of downloaded contents.</summary>
    public string Blobs => Path.Combine(Folder, "blobs");

    /// <summary>The snapshot folder of <paramref name="commit"/>: the files as the repository has them.</summary>
    public string Snapshot(string commit) => Path.Combine(Folder, "snapshots", commit);

    /// <summary>The content file of <paramref name="etag"/>.</summary>
    public string Blob(string etag) => Path.Combine(Blobs, etag);

    /// <summary>The lock taken while <paramref name="etag"/> downloads.</summary>
    public string Lock(string etag) => Path.Combine(cacheDirectory, ".locks", RepoId.CacheFolderName(repoId), etag + ".lock");

    /// <summary>The commit <paramref name="revision"/> names in the cache: itself when it is a commit, else what
    /// <c>refs/&lt;revision&gt;</c> holds; null when the cache does not know it.</summary>
    public string? Commit(string revision)
    {
        if (RepoId.IsCommit(revision))
        {
            return revision;
        }
        var path = RefPath(revision);
        try
        {
            return File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } commit ? commit : null;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Records that <paramref name="revision"/> points to <paramref name="commit"/> (nothing for a commit).</summary>
    public void WriteRef(string revision, string commit)
    {
        if (revision == commit || Commit(revision) == commit)
        {
            return;
        }
        var path = RefPath(revision);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.Write(path, Encoding.UTF8.GetBytes(commit));
    }

    /// <summary>Whether <paramref name="file"/> of <paramref name="commit"/>'s snapshot exists (a link to a present blob).</summary>
    public bool Has(string commit, string file) => File.Exists(Path.Combine(Snapshot(commit), file));

    /// <summary>
    /// Makes <paramref name="file"/> of <paramref name="commit"/>'s snapshot the blob <paramref name="etag"/>: a
    /// relative symbolic link (<c>../../blobs/&lt;etag&gt;</c>), or a copy where links fail, made under a temporary
    /// name and renamed over the entry, so concurrent loads of the same snapshot never see it half made.
    /// </summary>
    public void Link(string commit, string file, string etag)
    {
        var pointer = Path.Combine(Snapshot(commit), file);
        var folder = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(folder);
        var temporary = $"{pointer}.{Guid.NewGuid():N}.tmp";
        try
        {
            try
            {
                File.CreateSymbolicLink(temporary, Path.GetRelativePath(folder, Blob(etag)));
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
            {
                File.Copy(Blob(etag), temporary);
            }
            File.Move(temporary, pointer, overwrite: true);
        }
        catch (IOException error)
        {
            File.Delete(temporary);
            throw HubErrors.IsDiskFull(error)
                ? new HubException($"The disk is full: copying {Blob(etag)} to {pointer} (this file system has no symbolic links) " +
                    $"needs {new FileInfo(Blob(etag)).Length} bytes in {folder}.", error)
                : new HubException($"{pointer} could not be made ({error.Message}).", error);
        }
    }

    private string RefPath(string revision) => Path.Combine(Folder, "refs", revision);
}
