using NnSight.TestSupport;

namespace NnSight.Server.Tests;

/// <summary>config.yaml's keys as hashes, QUEUE, and what is refused with a message naming the file.</summary>
public sealed class ServerConfigTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Keys_listed_raw_or_as_hashes_are_kept_only_as_hashes_and_authorize_the_same()
    {
        var hash = ApiKeyHashes.OwnerOf("second-key");

        var config = Load($"API_KEYS:\n  - first-key\n  - SHA256:{hash.ToUpperInvariant()}\n");

        Assert.Equal(["sha256:" + ApiKeyHashes.OwnerOf("first-key"), "sha256:" + hash], config.ApiKeys);
        Assert.Equal(ApiKeyHashes.OwnerOf("first-key"), config.KeyHashes.Authorize("first-key"));
        Assert.Equal(hash, config.KeyHashes.Authorize("second-key"));
        Assert.Null(config.KeyHashes.Authorize("third-key"));
        Assert.Null(config.KeyHashes.Authorize(hash));
        Assert.Null(config.KeyHashes.Authorize(null));
        Assert.Null(config.RedisEndpoint);
        Assert.Equal(config.ResponsePath, config.JournalPath);
    }

    [Theory]
    [InlineData("API_KEYS:\n  - sha256:abc\n", "API_KEYS entry 1: sha256: must be followed by the key's SHA-256 as 64 hex digits (printf %s \"$KEY\" | sha256sum).")]
    [InlineData("API_KEYS:\n  - key\nQUEUE: http://127.0.0.1:6379\n", "QUEUE must be redis://host:port (optionally redis://:password@host:port), not \"http://127.0.0.1:6379\".")]
    [InlineData("API_KEYS:\n  - key\nQUEUE: redis://127.0.0.1\n", "QUEUE must be redis://host:port (optionally redis://:password@host:port), not \"redis://127.0.0.1\".")]
    [InlineData("API_KEYS:\n  - key\nLIMITS:\n  MAX_DELIVERIES: 0\n", "every LIMITS value must be positive.")]
    public void A_malformed_key_hash_queue_or_limit_is_refused_naming_the_file(string yaml, string message)
    {
        var error = Assert.Throws<InvalidDataException>(() => Load(yaml));

        Assert.Equal($"{_folder.File("config.yaml")}: {message}", error.Message);
    }

    [Fact]
    public void QUEUE_with_a_password_and_STATE_PATH_are_read_relative_to_the_file()
    {
        var config = Load("API_KEYS:\n  - key\nQUEUE: redis://:s%40cret@redis.internal:6380\nSTATE_PATH: state\n");

        Assert.Equal("redis.internal:6380,password=s@cret", config.RedisEndpoint);
        Assert.Equal(_folder.File("state"), config.JournalPath);
    }

    private ServerConfig Load(string yaml)
    {
        var path = _folder.File("config.yaml");
        File.WriteAllText(path, $"MODELS:\n  tiny-gpt2: {RepositoryPaths.TinyGpt2}\n{yaml}");
        return ServerConfig.Load(path);
    }
}
