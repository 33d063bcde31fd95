using NnSight.Models.Hub;
using NnSight.TestSupport;

namespace NnSight.Models.Tests;

public sealed class HubCacheTests : IDisposable
{
    private const string Id = "openai-community/tiny-gpt2";
    private const string Commit = "0123456789abcdef0123456789abcdef01234567";
    private readonly HubScene _scene = new();

    public void Dispose() => _scene.Dispose();

    /// <summary>The bundled tiny GPT-2 cached as huggingface_hub writes it: blobs by etag, snapshot links, refs/main.</summary>
    private void WritePythonCache()
    {
        var folder = _scene.RepoFolder(Id);
        var snapshot = Path.Combine(folder, "snapshots", Commit);
        Directory.CreateDirectory(Path.Combine(folder, "blobs"));
        Directory.CreateDirectory(Path.Combine(folder, "refs"));
        Directory.CreateDirectory(snapshot);
        foreach (var path in Directory.EnumerateFiles(RepositoryPaths.TinyGpt2))
        {
            var content = File.ReadAllBytes(path);
            var etag = FakeHub.IsLfs(path) ? FakeRepo.Sha256(content) : FakeRepo.GitSha1(content);
            File.WriteAllBytes(Path.Combine(folder, "blobs", etag), content);
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(path)), $"../../blobs/{etag}");
        }
        File.WriteAllText(Path.Combine(folder, "refs", "main"), Commit);
    }

    [Fact]
    public void A_cache_written_by_python_loads_offline_and_without_a_network()
    {
        WritePythonCache();
        using var fromFolder = LanguageModel.FromPretrained(RepositoryPaths.TinyGpt2);
        using var expected = HubScene.Logits(fromFolder);

        using (var offline = HubScene.Load(Id, _scene.Settings(offline: true)))
        using (var logits = HubScene.Logits(offline))
        {
            Assert.True(HubScene.BitEqual(expected, logits));
        }
        using (var unreachable = HubScene.Load(Id, _scene.Settings(endpoint: HubScene.DeadEndpoint())))
        using (var logits = HubScene.Logits(unreachable))
        {
            Assert.True(HubScene.BitEqual(expected, logits));
        }
        Assert.Empty(_scene.Hub.Requests);
    }

    [Fact]
    public void Offline_mode_finds_a_downloaded_model_without_any_request()
    {
        var repo = _scene.Hub.AddFolder(Id, RepositoryPaths.TinyLlama);
        HubScene.Resolve(Id, _scene.Settings());
        _scene.Hub.Requests.Clear();

        var resolved = HubScene.Resolve(Id, _scene.Settings(offline: true));

        Assert.Equal(Path.Combine(_scene.RepoFolder(Id), "snapshots", repo.Commit), resolved.Folder);
        Assert.Empty(_scene.Hub.Requests);
    }

    [Fact]
    public void Offline_mode_without_the_model_names_the_cache_folder_it_looked_in()
    {
        var error = Assert.Throws<HubException>(() => HubScene.Resolve(Id, _scene.Settings(offline: true)));

        Assert.Equal(
            $"HF_HUB_OFFLINE is set and {Id} (revision main) is not in the cache: looked in {_scene.RepoFolder(Id)}, which does not exist. " +
            "Load it once with the network on, or unset HF_HUB_OFFLINE.",
            error.Message);
        Assert.Empty(_scene.Hub.Requests);
    }

    [Fact]
    public void Offline_mode_with_only_the_config_cached_names_the_missing_weights()
    {
        WritePythonCache();
        var snapshot = Path.Combine(_scene.RepoFolder(Id), "snapshots", Commit);
        File.Delete(Path.Combine(snapshot, "model.safetensors"));

        var error = Assert.Throws<HubException>(() => HubScene.Resolve(Id, _scene.Settings(offline: true)));

        Assert.Equal(
            $"HF_HUB_OFFLINE is set and {Id} (revision main) is not in the cache: looked in {snapshot}, which lacks model.safetensors. " +
            "Load it once with the network on, or unset HF_HUB_OFFLINE.",
            error.Message);
    }

    [Fact]
    public void A_cached_commit_revision_needs_no_request()
    {
        WritePythonCache();

        var resolved = HubScene.Resolve(Id, _scene.Settings(), revision: Commit);

        Assert.Equal(Path.Combine(_scene.RepoFolder(Id), "snapshots", Commit), resolved.Folder);
        Assert.Empty(_scene.Hub.Requests);
    }

    [Fact]
    public void During_a_hub_outage_a_complete_cache_is_loaded_and_an_incomplete_one_named()
    {
        var repo = _scene.Hub.AddFolder(Id, RepositoryPaths.TinyLlama);
        HubScene.Resolve(Id, _scene.Settings());
        _scene.Hub.Down = true;

        var resolved = HubScene.Resolve(Id, _scene.Settings());
        var snapshot = Path.Combine(_scene.RepoFolder(Id), "snapshots", repo.Commit);
        File.Delete(Path.Combine(snapshot, "config.json"));
        var error = Assert.Throws<HubException>(() => HubScene.Resolve(Id, _scene.Settings()));

        Assert.Equal(snapshot, resolved.Folder);
        Assert.Equal(
            $"Could not reach {_scene.Hub.Endpoint} for {Id} (revision main): {_scene.Hub.Endpoint}/api/models/{Id}/revision/main answered 503 Service Unavailable. " +
            $"Nothing usable is cached: looked in {snapshot}, which lacks config.json. Check the network and load again " +
            "(downloads resume from their .incomplete files), or set HF_HUB_OFFLINE=1 to use only the cache.",
            error.Message);
    }

    [Fact]
    public void Without_a_network_a_model_not_in_the_cache_is_an_error_naming_the_cache_and_offline_mode()
    {
        var endpoint = HubScene.DeadEndpoint();

        var error = Assert.Throws<HubException>(() => HubScene.Resolve(Id, _scene.Settings(endpoint: endpoint)));

        Assert.StartsWith($"Could not reach {endpoint} for {Id} (revision main): {endpoint}/api/models/{Id}/revision/main could not be reached: ", error.Message);
        Assert.EndsWith(
            $". Nothing usable is cached: looked in {_scene.RepoFolder(Id)}, which does not exist. Check the network and load again " +
            "(downloads resume from their .incomplete files), or set HF_HUB_OFFLINE=1 to use only the cache.",
            error.Message);
    }
}
