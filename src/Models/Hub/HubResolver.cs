using NnSight.Models.Configuration;
using NnSight.Models.Loading;
using NnSight.Models.Progress;
using NnSight.Models.Tokenization;

namespace NnSight.Models.Hub;

/// <summary>Where a model's files are: a folder, and the hub repository it came from (null for a folder given as one).</summary>
internal sealed record ResolvedModel(string Folder, string? RepoId);

/// <summary>
/// Turns what <c>FromPretrained</c> was given into a folder, as transformers does: an existing folder as it is;
/// otherwise a hub repository id, found in the HuggingFace cache or downloaded into it (only the files a model needs:
/// config.json, generation_config.json, the safetensors weights and the tokenizer files the repository has). The
/// config is fetched first and handed to a check before any weights are fetched. See docs/architecture.md#the-hub.
/// </summary>
internal static class HubResolver
{
    public const string ConfigFile = "config.json";

    /// <summary>The files fetched when the repository has them.</summary>
    private static readonly string[] OptionalFiles =
    [
        GenerationConfig.FileName, TokenizerFiles.TokenizerJson, TokenizerFiles.TokenizerModel, TokenizerFiles.TokenizerConfig,
        "special_tokens_map.json", ModelTokenizer.VocabularyFileName, ModelTokenizer.MergesFileName,
    ];

    /// <summary>
    /// The folder of <paramref name="model"/> at <paramref name="revision"/> (null: <c>main</c>), after
    /// <paramref name="checkConfig"/> accepted the folder once its config.json is there (before the weights are).
    /// </summary>
    /// <exception cref="ConfigException"><paramref name="model"/> is neither a folder nor a repository id.</exception>
    /// <exception cref="HubException">The hub or the cache cannot provide the model; the message says why.</exception>
    public static ResolvedModel Resolve(string model, string? revision, HubSettings settings, bool showProgress, Action<string> checkConfig)
    {
        if (Directory.Exists(model))
        {
            checkConfig(model);
            return new ResolvedModel(model, null);
        }
        if (!RepoId.IsValid(model))
        {
            throw new ConfigException($"Model folder {model} does not exist.");
        }
        revision ??= "main";
        if (!IsRelativeFilePath(revision))
        {
            throw new ArgumentException($"Revision \"{revision}\" is not a branch, tag or commit name.", nameof(revision));
        }
        var cache = new RepoCache(settings.CacheDirectory, model);
        if (settings.Offline || RepoId.IsCommit(revision))
        {
            // A commit's files never change, so a complete snapshot of one needs no network, as in huggingface_hub.
            if (CachedSnapshot(cache, revision, out var state) is { } cached)
            {
                checkConfig(cached);
                return new ResolvedModel(cached, model);
            }
            if (settings.Offline)
            {
                throw HubErrors.Offline(model, revision, state);
            }
        }
        try
        {
            return new ResolvedModel(Download(new HubClient(settings), cache, model, revision, showProgress, checkConfig), model);
        }
        catch (HubUnreachableException error)
        {
            if (CachedSnapshot(cache, revision, out var state) is { } cached)
            {
                checkConfig(cached);
                return new ResolvedModel(cached, model);
            }
            throw HubErrors.Unreachable(settings, model, revision, state, error);
        }
    }

    /// <summary>Lists the revision, fetches what its snapshot lacks and records the revision's commit in refs.</summary>
    private static string Download(HubClient client, RepoCache cache, string repo, string revision, bool showProgress, Action<string> checkConfig)
    {
        var listing = client.GetRevision(repo, revision);
        var commit = listing.Commit;
        if (listing.Files.FirstOrDefault(file => !IsRelativeFilePath(file)) is { } unsafeName)
        {
            throw new HubException($"{client.Settings.Endpoint} lists a file \"{unsafeName}\" in {repo}, which is not a relative path inside it.");
        }
        if (!listing.Files.Contains(ConfigFile))
        {
            throw HubErrors.NotAModel(repo, revision, listing.Files);
        }
        cache.WriteRef(revision, commit);
        var snapshot = cache.Snapshot(commit);
        using var progress = TransferProgress.Start($"Downloading {repo}", 0, showProgress);
        void Ensure(IEnumerable<string> files)
        {
            var missing = files.Where(file => !cache.Has(commit, file)).ToList();
            var metadata = missing.Select(file => client.Head(repo, commit, file)).ToList();
            progress.AddTotal(metadata.Sum(file => file.Size ?? 0));
            foreach (var (file, fileMetadata) in missing.Zip(metadata))
            {
                BlobDownload.Fetch(client, cache, repo, file, fileMetadata, progress);
                cache.Link(commit, file, fileMetadata.Etag);
            }
        }

        Ensure([ConfigFile]);
        checkConfig(snapshot);
        IEnumerable<string> weights;
        if (listing.Files.Contains(SafetensorsCheckpoint.SingleFileName))
        {
            weights = [SafetensorsCheckpoint.SingleFileName];
        }
        else if (listing.Files.Contains(SafetensorsCheckpoint.IndexFileName))
        {
            Ensure([SafetensorsCheckpoint.IndexFileName]);
            weights = Shards(Path.Combine(snapshot, SafetensorsCheckpoint.IndexFileName), repo, listing);
        }
        else
        {
            throw HubErrors.NoSafetensors(repo, revision, listing.Files);
        }
        Ensure(OptionalFiles.Where(listing.Files.Contains).Concat(weights));
        return snapshot;
    }

    /// <summary>The shard files a sharded checkpoint's index names, each of which the repository must have.</summary>
    private static List<string> Shards(string index, string repo, RepoRevision listing)
    {
        var shards = SafetensorsCheckpoint.ShardNames(SafetensorsCheckpoint.ReadWeightMap(index));
        if (shards.FirstOrDefault(shard => !listing.Files.Contains(shard)) is { } absent)
        {
            throw new SafetensorsFormatException(index, $"the index names the shard {absent}, which {repo} does not have at commit {listing.Commit}.");
        }
        return shards;
    }

    /// <summary>The snapshot of <paramref name="revision"/> when the cache holds its config.json and every weights
    /// file; otherwise null, and <paramref name="state"/> says where it looked and what is missing.</summary>
    private static string? CachedSnapshot(RepoCache cache, string revision, out string state)
    {
        if (!Directory.Exists(cache.Folder))
        {
            state = $"looked in {cache.Folder}, which does not exist.";
            return null;
        }
        if (cache.Commit(revision) is not { } commit)
        {
            state = $"looked in {cache.Folder}, which has no refs/{revision} (the commit revision {revision} was at).";
            return null;
        }
        var snapshot = cache.Snapshot(commit);
        var missing = MissingFiles(snapshot);
        state = $"looked in {snapshot}, which lacks {string.Join(", ", missing)}.";
        return missing.Count == 0 ? snapshot : null;
    }

    private static List<string> MissingFiles(string snapshot)
    {
        var missing = new List<string>();
        if (!File.Exists(Path.Combine(snapshot, ConfigFile)))
        {
            missing.Add(ConfigFile);
        }
        var index = Path.Combine(snapshot, SafetensorsCheckpoint.IndexFileName);
        if (File.Exists(index))
        {
            try
            {
                missing.AddRange(SafetensorsCheckpoint.ShardNames(SafetensorsCheckpoint.ReadWeightMap(index))
                    .Where(shard => !File.Exists(Path.Combine(snapshot, shard))));
            }
            catch (SafetensorsFormatException)
            {
                missing.Add($"a readable {SafetensorsCheckpoint.IndexFileName}");
            }
        }
        else if (!File.Exists(Path.Combine(snapshot, SafetensorsCheckpoint.SingleFileName)))
        {
            missing.Add(SafetensorsCheckpoint.SingleFileName);
        }
        return missing;
    }

    /// <summary>Whether <paramref name="path"/> is a relative path that stays inside the folder it is joined to.</summary>
    private static bool IsRelativeFilePath(string path) =>
        path.Length > 0 && !path.Contains('\\', StringComparison.Ordinal) && !Path.IsPathRooted(path)
        && path.Split('/').All(segment => segment is not ("" or "." or ".."));
}
