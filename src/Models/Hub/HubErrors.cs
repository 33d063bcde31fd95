using System.Globalization;

namespace NnSight.Models.Hub;

/// <summary>The messages of hub failures: each names the repository, the endpoint or cache folder, and what to do.</summary>
internal static class HubErrors
{
    /// <summary>
    /// The error for an unsuccessful response: a server error (5xx) is the hub being unreachable, so a cached copy can
    /// stand in, as in huggingface_hub; any other status is a <see cref="HubException"/> read from the status and the
    /// hub's <c>X-Error-Code</c>.
    /// </summary>
    public static NnSightException FromStatus(HttpResponseMessage response, HubSettings settings, string repo, string revision, string? file)
    {
        var status = (int)response.StatusCode;
        if (status >= 500)
        {
            return new HubUnreachableException($"{response.RequestMessage?.RequestUri} answered {status} {response.ReasonPhrase}");
        }
        var code = Header(response, "X-Error-Code");
        var detail = Header(response, "X-Error-Message") is { } text ? $": {text}" : "";
        var endpoint = settings.Endpoint;
        var tokenSent = settings.Token is not null;
        return code switch
        {
            "GatedRepo" => new HubException(
                $"{repo} is a gated model: its files need a token of an account that was granted access, and " +
                (tokenSent ? $"the token from {settings.TokenOrigin} does not grant it (HTTP {status}). " : $"no token was sent (HTTP {status}). ") +
                $"Request access at {endpoint}/{repo}, then {settings.TokenAdvice}."),
            "RepoNotFound" => NotFound(settings, repo, status),
            "RevisionNotFound" => new HubException(
                $"Revision {revision} of {repo} does not exist at {endpoint} (HTTP {status}); name a branch, a tag or a commit of the repository."),
            "EntryNotFound" => new HubException($"{file} is not in {repo} at revision {revision} on {endpoint} (HTTP {status})."),
            _ => status switch
            {
                404 when file is null => NotFound(settings, repo, status),
                401 => new HubException(
                    $"{endpoint} refused {repo} (HTTP 401{detail}): " +
                    (tokenSent ? $"the token from {settings.TokenOrigin} is not valid; " : "it needs a token; ") + $"{settings.TokenAdvice}."),
                403 => new HubException(
                    $"{endpoint} refused {repo} (HTTP 403{detail}): " +
                    (tokenSent ? $"the token from {settings.TokenOrigin} lacks the permission to read it; " : "it needs a token that can read it; ") +
                    $"{settings.TokenAdvice}."),
                _ => new HubException(
                    $"{endpoint} answered {status} {response.ReasonPhrase} for {response.RequestMessage?.RequestUri}{detail} while loading {repo}."),
            },
        };
    }

    /// <summary>The repository does not exist, or is private and the token (if any) does not reach it.</summary>
    public static HubException NotFound(HubSettings settings, string repo, int status) =>
        new($"Repository {repo} was not found at {settings.Endpoint} (HTTP {status}), and there is no folder {Path.GetFullPath(repo)}. " +
            (settings.Token is null
                ? $"Check the id; a private repository needs a token with access to it: {settings.TokenAdvice}."
                : $"Check the id, and, if the repository is private, that the token from {settings.TokenOrigin} has access to it."));

    /// <summary>The repository has no config.json.</summary>
    public static HubException NotAModel(string repo, string revision, IEnumerable<string> files) =>
        new($"{repo} (revision {revision}) has no config.json, so it is not a transformers model NnSight can load; " +
            $"its files: {Sample(files)}.");

    /// <summary>The repository has no safetensors weights; pickled ones are never loaded.</summary>
    public static HubException NoSafetensors(string repo, string revision, IEnumerable<string> files)
    {
        var pickles = files.Where(name => Path.GetExtension(name) is ".bin" or ".pt" or ".pth" or ".ckpt" or ".pkl").Order(StringComparer.Ordinal).ToList();
        return new($"{repo} (revision {revision}) has no safetensors weights (neither model.safetensors nor model.safetensors.index.json)" +
            (pickles.Count > 0 ? $"; it has {Sample(pickles)}" : "") +
            ". NnSight never loads .bin weights: they are Python pickles, and unpickling can execute arbitrary code. " +
            "Load a revision that has safetensors weights (the hub's conversion bot opens one as a pull request, refs/pr/N), " +
            "or convert the weights with save_pretrained(..., safe_serialization=True).");
    }

    /// <summary>A download did not match its checksum twice.</summary>
    public static HubException Corrupt(string repo, string file, string expected, string found, string blobs) =>
        new($"{file} of {repo} was downloaded twice and did not match the hub's {expected} either time (the last copy had {found}); " +
            $"it was deleted from {blobs}. Something between the hub and this machine alters the data: try again, or from another network.");

    /// <summary>The disk filled up during a download; the part downloaded stays to be resumed.</summary>
    public static HubException DiskFull(string repo, string file, long? size, long done, string incomplete, IOException error) =>
        new($"The disk is full: {file} of {repo} needs " +
            (size is { } total ? $"{Bytes(total - done)} more bytes ({Bytes(total)} in all)" : "more bytes") +
            $" in {Path.GetDirectoryName(incomplete)}. The {Bytes(done)} bytes downloaded are kept in {incomplete}; " +
            "free space (or point HF_HUB_CACHE elsewhere) and load again to resume.", error);

    /// <summary>The hub could not be reached and the cache does not hold the model.</summary>
    public static HubException Unreachable(HubSettings settings, string repo, string revision, string cacheState, HubUnreachableException error) =>
        new($"Could not reach {settings.Endpoint} for {repo} (revision {revision}): {error.Message}. Nothing usable is cached: {cacheState} " +
            "Check the network and load again (downloads resume from their .incomplete files), or set HF_HUB_OFFLINE=1 to use only the cache.",
            error);

    /// <summary>Offline mode and the cache does not hold the model.</summary>
    public static HubException Offline(string repo, string revision, string cacheState) =>
        new($"HF_HUB_OFFLINE is set and {repo} (revision {revision}) is not in the cache: {cacheState} " +
            "Load it once with the network on, or unset HF_HUB_OFFLINE.");

    /// <summary>Whether <paramref name="error"/> says the disk is full (ENOSPC on Unix, ERROR_DISK_FULL or ERROR_HANDLE_DISK_FULL on Windows).</summary>
    public static bool IsDiskFull(IOException error) =>
        error.HResult == 28 || ((error.HResult & 0xFFFF) is 39 or 112 && (uint)error.HResult >> 16 == 0x8007);

    private static string Bytes(long count) => count.ToString("N0", CultureInfo.InvariantCulture);

    private static string Sample(IEnumerable<string> files)
    {
        var list = files.Order(StringComparer.Ordinal).ToList();
        return list.Count == 0 ? "none" : string.Join(", ", list.Take(8)) + (list.Count > 8 ? $" and {list.Count - 8} more" : "");
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}
