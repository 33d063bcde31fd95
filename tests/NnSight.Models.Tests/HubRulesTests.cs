using NnSight.Models.Hub;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Models.Tests;

public sealed class HubRulesTests
{
    [Theory]
    [InlineData("gpt2", true)]
    [InlineData("openai-community/gpt2", true)]
    [InlineData("meta-llama/Llama-3.1-8B", true)]
    [InlineData("user_1/model.v2", true)]
    [InlineData("a", true)]
    [InlineData("a/b/c", false)]
    [InlineData("/abs/path", false)]
    [InlineData("./model", false)]
    [InlineData("../model", false)]
    [InlineData("org/-model", false)]
    [InlineData("org/model.", false)]
    [InlineData("org--x/model", false)]
    [InlineData("org/model..v2", false)]
    [InlineData("org/model.git", false)]
    [InlineData("org/model name", false)]
    [InlineData("", false)]
    public void Repo_ids_follow_the_hubs_rules(string text, bool valid)
    {
        Assert.Equal(valid, RepoId.IsValid(text));
    }

    [Fact]
    public void A_repo_name_has_at_most_96_characters()
    {
        Assert.True(RepoId.IsValid("org/" + new string('a', 96)));
        Assert.False(RepoId.IsValid("org/" + new string('a', 97)));
    }

    [Theory]
    [InlineData("/no/such/model/folder")]
    [InlineData("./missing-model")]
    [InlineData("models/tiny/gpt2")]
    [InlineData("bad--name")]
    public void A_missing_path_that_cannot_be_a_hub_id_is_a_missing_folder(string path)
    {
        var error = Assert.Throws<ConfigException>(() => LanguageModel.FromPretrained(path));

        Assert.Equal($"Model folder {path} does not exist.", error.Message);
    }

    [Fact]
    public void The_cache_folder_follows_huggingface_hubs_variables_in_order()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        HubSettings With(params (string Name, string Value)[] variables) =>
            HubSettings.FromVariables(name => variables.FirstOrDefault(variable => variable.Name == name).Value);

        Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), With().CacheDirectory);
        Assert.Equal(Path.Combine("/xdg", "huggingface", "hub"), With(("XDG_CACHE_HOME", "/xdg")).CacheDirectory);
        Assert.Equal(Path.Combine("/hf", "hub"), With(("XDG_CACHE_HOME", "/xdg"), ("HF_HOME", "/hf")).CacheDirectory);
        Assert.Equal("/cache", With(("HF_HOME", "/hf"), ("HF_HUB_CACHE", "/cache")).CacheDirectory);
        Assert.Equal(Path.Combine(home, "hf", "hub"), With(("HF_HOME", "~/hf")).CacheDirectory);
        Assert.Equal(Path.Combine("/hf", "token"), With(("HF_HOME", "/hf")).TokenPath);
        Assert.Equal("https://huggingface.co", With().Endpoint);
        Assert.Equal("http://mirror.local", With(("HF_ENDPOINT", "http://mirror.local/")).Endpoint);
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("true", true)]
    [InlineData("YES", true)]
    [InlineData("on", true)]
    [InlineData("0", false)]
    [InlineData("no", false)]
    [InlineData("", false)]
    public void Offline_mode_takes_huggingface_hubs_truth_values(string value, bool offline)
    {
        Assert.Equal(offline, HubSettings.FromVariables(name => name == "HF_HUB_OFFLINE" ? value : null).Offline);
    }

    [Fact]
    public void The_token_comes_from_HF_TOKEN_else_from_the_token_file()
    {
        using var home = new TemporaryFolder();
        File.WriteAllText(home.File("token"), "hf_from_file\n");
        HubSettings With(string? token) =>
            HubSettings.FromVariables(name => name switch { "HF_HOME" => home.FullPath, "HF_TOKEN" => token, _ => null });

        Assert.Equal(("hf_from_variable", "HF_TOKEN"), (With("hf_from_variable").Token, With("hf_from_variable").TokenOrigin));
        Assert.Equal(("hf_from_file", home.File("token")), (With(null).Token, With(null).TokenOrigin));
        File.Delete(home.File("token"));
        Assert.Null(With(null).Token);
    }

    [Fact]
    public void A_full_disk_names_the_bytes_needed_and_the_folder()
    {
        var full = new IOException("No space left on device", 28);

        var error = HubErrors.DiskFull("org/model", "model.safetensors", size: 5_000_000_000, done: 1_250_000_000, "/cache/models--org--model/blobs/abc.incomplete", full);

        Assert.True(HubErrors.IsDiskFull(full));
        Assert.False(HubErrors.IsDiskFull(new IOException("Input/output error", 5)));
        Assert.Equal(
            "The disk is full: model.safetensors of org/model needs 3,750,000,000 more bytes (5,000,000,000 in all) in /cache/models--org--model/blobs. " +
            "The 1,250,000,000 bytes downloaded are kept in /cache/models--org--model/blobs/abc.incomplete; free space (or point HF_HUB_CACHE elsewhere) " +
            "and load again to resume.",
            error.Message);
    }

    [Fact]
    public void A_typed_load_runs_its_check_on_a_folder_before_loading()
    {
        var checkedFolders = new List<string>();

        using var model = CheckedModel.Load(RepositoryPaths.TinyLlama, checkedFolders.Add);
        var error = Assert.Throws<InvalidOperationException>(() => CheckedModel.Load(RepositoryPaths.TinyLlama, _ => throw new InvalidOperationException("refused")));

        Assert.Equal([RepositoryPaths.TinyLlama], checkedFolders);
        Assert.Equal("refused", error.Message);
    }

    /// <summary>Reaches the protected overload typed model classes call.</summary>
    private sealed class CheckedModel : LanguageModel
    {
        private CheckedModel(LanguageModel loaded) : base(loaded)
        {
        }

        public static LanguageModel Load(string folder, Action<string> check) => FromPretrained(folder, CPU, null, null, false, check);
    }
}
