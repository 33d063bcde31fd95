using NnSight.Models.Progress;

namespace NnSight.Models.Hub;

/// <summary>
/// Downloads one file's content into the cache's <c>blobs/&lt;etag&gt;</c> as huggingface_hub does: into
/// <c>&lt;etag&gt;.incomplete</c> under the blob's lock, resuming with <c>Range: bytes=N-</c> what an interrupted
/// download (this call's or an earlier process's) left, then checked against the etag and moved into place in one
/// rename, so a blob is either whole or absent. A copy that does not match is deleted and fetched once more; a second
/// mismatch is an error. A broken connection is resumed up to <see cref="MaxResumes"/> times, with growing pauses.
/// </summary>
internal sealed class BlobDownload
{
    private const int MaxResumes = 5;
    private const int ChunkSize = 1 << 20;

    private readonly HubClient _client;
    private readonly string _repo;
    private readonly string _file;
    private readonly FileMetadata _metadata;
    private readonly string _incomplete;
    private readonly TransferProgress _progress;
    private readonly byte[] _buffer = new byte[ChunkSize];

    private BlobDownload(HubClient client, string repo, string file, FileMetadata metadata, string incomplete, TransferProgress progress)
    {
        (_client, _repo, _file, _metadata, _incomplete, _progress) = (client, repo, file, metadata, incomplete, progress);
    }

    /// <summary>Makes <c>blobs/&lt;etag&gt;</c> of <paramref name="metadata"/> present, downloading it unless it is.</summary>
    /// <exception cref="HubException">The content stayed corrupt, the disk is full, or the hub refused.</exception>
    /// <exception cref="HubUnreachableException">The connection broke more often than resuming allows.</exception>
    public static void Fetch(HubClient client, RepoCache cache, string repo, string file, FileMetadata metadata, TransferProgress progress)
    {
        var blob = cache.Blob(metadata.Etag);
        if (!File.Exists(blob))
        {
            Directory.CreateDirectory(cache.Blobs);
            using var held = AcquireLock(cache.Lock(metadata.Etag));
            if (!File.Exists(blob))
            {
                new BlobDownload(client, repo, file, metadata, blob + ".incomplete", progress).Run(cache, blob);
                return;
            }
        }
        progress.Advance(metadata.Size ?? 0);
    }

    private void Run(RepoCache cache, string blob)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (matches, expected, found) = DownloadOnce();
            if (matches)
            {
                File.Move(_incomplete, blob, overwrite: true);
                return;
            }
            _progress.Advance(-new FileInfo(_incomplete).Length);
            File.Delete(_incomplete);
            if (attempt == 2)
            {
                throw HubErrors.Corrupt(_repo, _file, expected, found, cache.Blobs);
            }
        }
    }

    /// <summary>Completes the <c>.incomplete</c> file and checks it: whether it matches, what was expected and what was found.</summary>
    private (bool Matches, string Expected, string Found) DownloadOnce()
    {
        using var output = new FileStream(_incomplete, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        if (output.Length > (_metadata.Size ?? long.MaxValue))
        {
            output.SetLength(0);
        }
        var checksum = BlobChecksum.For(_metadata.Etag, _metadata.Size);
        try
        {
            // What an earlier, interrupted download left counts towards the checksum and the bar.
            for (int read; (read = output.Read(_buffer)) > 0;)
            {
                checksum.Append(_buffer.AsSpan(0, read));
            }
            _progress.Advance(output.Length);
            for (var resumes = 0; ;)
            {
                try
                {
                    if (Receive(output, ref checksum))
                    {
                        break;
                    }
                }
                catch (HubUnreachableException) when (resumes < MaxResumes)
                {
                    Thread.Sleep(_client.Settings.RetryDelay * (1 << resumes++));
                }
            }
            var digest = checksum.Digest();
            var sizeMatches = _metadata.Size is not { } size || output.Length == size;
            return digest is null
                ? (sizeMatches, $"size of {_metadata.Size} bytes", $"{output.Length} bytes")
                : (sizeMatches && checksum.Matches(digest), $"{checksum.Kind} {_metadata.Etag}", $"{checksum.Kind} {digest}");
        }
        finally
        {
            checksum.Dispose();
        }
    }

    /// <summary>One GET from the end of <paramref name="output"/>; true once the content is complete, false to ask again.</summary>
    private bool Receive(FileStream output, ref BlobChecksum checksum)
    {
        var offset = output.Length;
        if (offset > 0 && offset == _metadata.Size)
        {
            return true;
        }
        using var response = _client.OpenDownload(_metadata.Location, offset);
        var status = (int)response.StatusCode;
        if (status == 416 && offset > 0)
        {
            // The range starts past the end (a file of the expected size returned above): start over.
            Restart(output, ref checksum);
            return false;
        }
        if (!response.IsSuccessStatusCode)
        {
            throw HubErrors.FromStatus(response, _client.Settings, _repo, _metadata.Commit, _file);
        }
        if (offset > 0 && (status != 206 || response.Content.Headers.ContentRange?.From != offset))
        {
            // The server ignored the range (or answered another one): take the whole content again.
            Restart(output, ref checksum);
            if (status == 206)
            {
                return false;
            }
        }
        using var watchdog = new CancellationTokenSource();
        using var stall = watchdog.Token.Register(response.Dispose);
        try
        {
            using var body = response.Content.ReadAsStream();
            while (true)
            {
                watchdog.CancelAfter(_client.Settings.DownloadTimeout);
                var read = body.Read(_buffer);
                if (read == 0)
                {
                    break;
                }
                Write(output, read);
                checksum.Append(_buffer.AsSpan(0, read));
                _progress.Advance(read);
            }
        }
        catch (Exception error) when (error is IOException or HttpRequestException or ObjectDisposedException)
        {
            throw new HubUnreachableException(watchdog.IsCancellationRequested
                ? $"the download of {_file} stalled for {_client.Settings.DownloadTimeout.TotalSeconds:0.#} s after {output.Length} bytes"
                : $"the download of {_file} broke after {output.Length} bytes ({error.Message})", error);
        }
        if (output.Length < _metadata.Size)
        {
            throw new HubUnreachableException($"the connection closed after {output.Length} of {_metadata.Size} bytes of {_file}");
        }
        return true;
    }

    private void Write(FileStream output, int count)
    {
        try
        {
            output.Write(_buffer, 0, count);
        }
        catch (IOException error)
        {
            throw HubErrors.IsDiskFull(error)
                ? HubErrors.DiskFull(_repo, _file, _metadata.Size, output.Length, _incomplete, error)
                : new HubException($"Writing {_incomplete} failed: {error.Message}", error);
        }
    }

    private void Restart(FileStream output, ref BlobChecksum checksum)
    {
        _progress.Advance(-output.Length);
        output.SetLength(0);
        checksum.Dispose();
        checksum = BlobChecksum.For(_metadata.Etag, _metadata.Size);
    }

    /// <summary>The blob's lock file, held open exclusively: another process (Python's filelock included) downloading
    /// the same content is waited for.</summary>
    private static FileStream AcquireLock(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException error) when (IsHeldElsewhere(error))
            {
                Thread.Sleep(100);
            }
        }
    }

    /// <summary>EWOULDBLOCK from the lock (11 on Linux, 35 on macOS), or Windows' sharing violation.</summary>
    private static bool IsHeldElsewhere(IOException error) => error.HResult is 11 or 35 or unchecked((int)0x80070020);
}
