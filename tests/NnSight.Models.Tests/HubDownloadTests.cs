using System.Text;
using NnSight.Models.Configuration;
using NnSight.Models.Hub;
using NnSight.TestSupport;

namespace NnSight.Models.Tests;

public sealed class HubDownloadTests : IDisposable
{
    private const string Id = "org/tiny-gpt2";
    private const string Weights = "model.safetensors";
    private readonly HubScene _scene = new();

    public void Dispose() => _scene.Dispose();

    private FakeRepo AddTinyGpt2(string? token = null, params string[] branches) =>
        _scene.Hub.AddFolder(Id, RepositoryPaths.TinyGpt2, token, branches);

    [Fact]
    public void A_hub_id_downloads_only_the_files_a_model_needs_into_huggingface_hubs_layout()
    {
        var files = Directory.EnumerateFiles(RepositoryPaths.TinyGpt2).ToDictionary(path => Path.GetFileName(path), File.ReadAllBytes, StringComparer.Ordinal);
        files["README.md"] = "# tiny"u8.ToArray();
        files["pytorch_model.bin"] = [1, 2, 3];
        files["vocab.json"] = "{}"u8.ToArray();
        var repo = _scene.Hub.Add(Id, files);

        var resolved = HubScene.Resolve(Id, _scene.Settings());

        var folder = _scene.RepoFolder(Id);
        Assert.Equal(new ResolvedModel(Path.Combine(folder, "snapshots", repo.Commit), Id), resolved);
        Assert.Equal(repo.Commit, File.ReadAllText(Path.Combine(folder, "refs", "main")));
        string[] fetched = ["config.json", "generation_config.json", Weights, "vocab.json"];
        foreach (var file in fetched)
        {
            var pointer = new FileInfo(Path.Combine(resolved.Folder, file));
            Assert.Equal($"../../blobs/{repo.Etag(file)}", pointer.LinkTarget);
            Assert.Equal(files[file], File.ReadAllBytes(pointer.FullName));
        }
        var name = RepoId.CacheFolderName(Id);
        List<string> expected =
        [
            .. fetched.Select(file => $".locks/{name}/{repo.Etag(file)}.lock"), .. fetched.Select(file => $"{name}/blobs/{repo.Etag(file)}"),
            $"{name}/refs/main", .. fetched.Select(file => $"{name}/snapshots/{repo.Commit}/{file}"),
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), _scene.CacheFiles());
        Assert.DoesNotContain(_scene.Hub.Requests, request => request.Path.EndsWith(".bin", StringComparison.Ordinal) || request.Path.EndsWith(".md", StringComparison.Ordinal));
    }

    [Fact]
    public void Loading_a_hub_id_gives_the_same_logits_as_loading_the_folder()
    {
        AddTinyGpt2();

        using var fromHub = HubScene.Load(Id, _scene.Settings());
        using var fromFolder = LanguageModel.FromPretrained(RepositoryPaths.TinyGpt2);

        using var expected = HubScene.Logits(fromFolder);
        using var actual = HubScene.Logits(fromHub);
        Assert.True(HubScene.BitEqual(expected, actual));
        Assert.Equal(Id, fromHub.RemoteId);
    }

    [Fact]
    public void A_second_load_asks_only_for_the_listing()
    {
        AddTinyGpt2();
        HubScene.Resolve(Id, _scene.Settings());
        _scene.Hub.Requests.Clear();

        HubScene.Resolve(Id, _scene.Settings());

        Assert.Equal([new HubRequest("GET", $"/api/models/{Id}/revision/main", null, null)], _scene.Hub.Requests);
    }

    [Fact]
    public void An_interrupted_download_resumes_with_a_range_request_and_verifies()
    {
        var repo = AddTinyGpt2();
        _scene.Hub.CutOnce(Weights, 4_000_000);

        var resolved = HubScene.Resolve(Id, _scene.Settings());

        var gets = _scene.Hub.RequestsFor($"/lfs/{repo.Etag(Weights)}");
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Range);
        var resumedAt = long.Parse(gets[1].Range!["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(resumedAt, 1, 4_000_000);
        Assert.Equal(repo.Files[Weights], File.ReadAllBytes(Path.Combine(resolved.Folder, Weights)));
    }

    [Fact]
    public void A_stalled_download_is_given_up_after_the_timeout_and_resumed()
    {
        var repo = AddTinyGpt2();
        _scene.Hub.StallOnce(Weights, 3_000_000);

        var resolved = HubScene.Resolve(Id, _scene.Settings() with { DownloadTimeout = TimeSpan.FromMilliseconds(300) });

        var gets = _scene.Hub.RequestsFor($"/lfs/{repo.Etag(Weights)}");
        Assert.Equal([null, "bytes=3000000-"], gets.Select(request => request.Range));
        Assert.Equal(repo.Files[Weights], File.ReadAllBytes(Path.Combine(resolved.Folder, Weights)));
    }

    [Fact]
    public void A_download_an_earlier_process_left_incomplete_is_resumed()
    {
        var repo = AddTinyGpt2();
        var blobs = Path.Combine(_scene.RepoFolder(Id), "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, repo.Etag(Weights) + ".incomplete"), repo.Files[Weights][..5_000_000]);

        var resolved = HubScene.Resolve(Id, _scene.Settings());

        Assert.Equal("bytes=5000000-", Assert.Single(_scene.Hub.RequestsFor($"/lfs/{repo.Etag(Weights)}")).Range);
        Assert.Equal(repo.Files[Weights], File.ReadAllBytes(Path.Combine(resolved.Folder, Weights)));
        Assert.False(File.Exists(Path.Combine(blobs, repo.Etag(Weights) + ".incomplete")));
    }

    [Theory]
    [InlineData(Weights)]
    [InlineData("config.json")]
    public void A_corrupted_download_is_detected_deleted_and_fetched_again(string file)
    {
        var repo = AddTinyGpt2();
        _scene.Hub.Corrupt(file, times: 1);

        var resolved = HubScene.Resolve(Id, _scene.Settings());

        Assert.Equal(2, _scene.Hub.Requests.Count(request => request.Method == "GET" && request.Path.EndsWith("/" + (FakeHub.IsLfs(file) ? repo.Etag(file) : file), StringComparison.Ordinal)));
        Assert.Equal(repo.Files[file], File.ReadAllBytes(Path.Combine(resolved.Folder, file)));
    }

    [Fact]
    public void A_download_corrupted_twice_is_an_error_that_leaves_nothing_in_place()
    {
        var repo = AddTinyGpt2();
        _scene.Hub.Corrupt(Weights, times: 2);
        var corrupted = repo.Files[Weights].ToArray();
        corrupted[0] ^= 0xFF;

        var error = Assert.Throws<HubException>(() => HubScene.Resolve(Id, _scene.Settings()));

        var blobs = Path.Combine(_scene.RepoFolder(Id), "blobs");
        Assert.Equal(
            $"{Weights} of {Id} was downloaded twice and did not match the hub's sha256 {repo.Etag(Weights)} either time " +
            $"(the last copy had sha256 {FakeRepo.Sha256(corrupted)}); it was deleted from {blobs}. " +
            "Something between the hub and this machine alters the data: try again, or from another network.",
            error.Message);
        Assert.DoesNotContain(_scene.CacheFiles(), path => path.Contains(repo.Etag(Weights), StringComparison.Ordinal) && !path.EndsWith(".lock", StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(_scene.RepoFolder(Id), "snapshots", repo.Commit, Weights)));
    }

    [Fact]
    public void A_gated_model_is_fetched_with_the_token_as_a_bearer_header()
    {
        var repo = AddTinyGpt2(token: "hf_granted");

        var resolved = HubScene.Resolve(Id, _scene.Settings(token: "hf_granted"));

        Assert.All(_scene.Hub.Requests, request => Assert.Equal("Bearer hf_granted", request.Authorization));
        Assert.Equal(repo.Files[Weights], File.ReadAllBytes(Path.Combine(resolved.Folder, Weights)));
    }

    [Fact]
    public void A_gated_model_without_a_token_says_to_request_access_and_set_the_token()
    {
        AddTinyGpt2(token: "hf_granted");

        var error = Assert.Throws<HubException>(() => HubScene.Resolve(Id, _scene.Settings()));

        Assert.Equal(
            $"{Id} is a gated model: its files need a token of an account that was granted access, and no token was sent (HTTP 401). " +
            $"Request access at {_scene.Hub.Endpoint}/{Id}, then set HF_TOKEN or write the token to {_scene.TokenPath}.",
            error.Message);
    }

    [Fact]
    public void A_gated_model_with_a_token_that_has_no_access_says_so()
    {
        AddTinyGpt2(token: "hf_granted");

        var error = Assert.Throws<HubException>(() => HubScene.Resolve(Id, _scene.Settings(token: "hf_other")));

        Assert.Equal(
            $"{Id} is a gated model: its files need a token of an account that was granted access, and the token from " +
            $"{_scene.TokenPath} does not grant it (HTTP 403). Request access at {_scene.Hub.Endpoint}/{Id}, then set HF_TOKEN or write the token to {_scene.TokenPath}.",
            error.Message);
        Assert.Empty(_scene.Hub.RequestsFor(".safetensors"));
    }

    [Fact]
    public void An_unknown_repository_names_the_id_the_endpoint_and_the_token()
    {
        var error = Assert.Throws<HubException>(() => HubScene.Resolve("nobody/missing", _scene.Settings()));

        Assert.Equal(
            $"Repository nobody/missing was not found at {_scene.Hub.Endpoint} (HTTP 404), and there is no folder {Path.GetFullPath("nobody/missing")}. " +
            $"Check the id; a private repository needs a token with access to it: set HF_TOKEN or write the token to {_scene.TokenPath}.",
            error.Message);
    }

    [Fact]
    public void An_unknown_revision_is_named()
    {
        AddTinyGpt2();

        var error = Assert.Throws<HubException>(() => HubScene.Resolve(Id, _scene.Settings(), revision: "v9"));

        Assert.Equal($"Revision v9 of {Id} does not exist at {_scene.Hub.Endpoint} (HTTP 404); name a branch, a tag or a commit of the repository.", error.Message);
    }

    [Fact]
    public void A_repository_without_safetensors_is_refused_and_its_pickle_is_never_fetched()
    {
        _scene.Hub.Add("org/pickled", new Dictionary<string, byte[]>
        {
            ["config.json"] = File.ReadAllBytes(Path.Combine(RepositoryPaths.TinyGpt2, "config.json")),
            ["pytorch_model.bin"] = Encoding.ASCII.GetBytes("not a pickle"),
        });

        var error = Assert.Throws<HubException>(() => HubScene.Load("org/pickled", _scene.Settings()));

        Assert.Equal(
            "org/pickled (revision main) has no safetensors weights (neither model.safetensors nor model.safetensors.index.json); it has pytorch_model.bin. " +
            "NnSight never loads .bin weights: they are Python pickles, and unpickling can execute arbitrary code. Load a revision that has safetensors " +
            "weights (the hub's conversion bot opens one as a pull request, refs/pr/N), or convert the weights with save_pretrained(..., safe_serialization=True).",
            error.Message);
        Assert.Empty(_scene.Hub.RequestsFor(".bin"));
    }

    [Fact]
    public void A_sharded_repository_downloads_the_index_and_every_shard()
    {
        using var variants = new CheckpointVariants();
        var repo = _scene.Hub.AddFolder("org/sharded", variants.Sharded("sharded", shards: 3));

        var resolved = HubScene.Resolve("org/sharded", _scene.Settings());

        Assert.Equal(
            ["config.json", "generation_config.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
             "model-00003-of-00003.safetensors", "model.safetensors.index.json"],
            Directory.EnumerateFileSystemEntries(resolved.Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var (file, content) in repo.Files)
        {
            Assert.Equal(content, File.ReadAllBytes(Path.Combine(resolved.Folder, file)));
        }
    }

    [Fact]
    public void A_typed_config_check_refuses_the_model_before_any_weights_are_downloaded()
    {
        AddTinyGpt2();
        var snapshot = "";

        var error = Assert.Throws<ConfigMismatchException>(() => LanguageModel.Load(Id, TorchSharp.torch.CPU, null, null, false,
            folder => ConfigCheck.Require(snapshot = folder, "TinyLlama", "llama", "models/tiny-llama/config.json", [("num_hidden_layers", 2)]),
            _scene.Settings()));

        Assert.Equal(
            $"{Path.Combine(snapshot, "config.json")}: model_type is gpt2, but TinyLlama was generated from models/tiny-llama/config.json with model_type llama; " +
            "load a llama folder, or declare a class from this folder's config.json.",
            error.Message);
        Assert.Equal(["config.json"], Directory.EnumerateFileSystemEntries(snapshot).Select(Path.GetFileName));
        Assert.Empty(_scene.Hub.RequestsFor(".safetensors"));
        Assert.DoesNotContain(_scene.Hub.Requests, request => request.Path.StartsWith("/lfs/", StringComparison.Ordinal));
    }

    [Fact]
    public void A_revision_is_listed_by_name_and_recorded_in_refs()
    {
        var repo = AddTinyGpt2(branches: "v1");

        var resolved = HubScene.Resolve(Id, _scene.Settings(), revision: "v1");

        Assert.Equal($"/api/models/{Id}/revision/v1", _scene.Hub.Requests.First().Path);
        Assert.Equal(repo.Commit, File.ReadAllText(Path.Combine(_scene.RepoFolder(Id), "refs", "v1")));
        Assert.False(File.Exists(Path.Combine(_scene.RepoFolder(Id), "refs", "main")));
        Assert.Equal(Path.Combine(_scene.RepoFolder(Id), "snapshots", repo.Commit), resolved.Folder);
    }
}
