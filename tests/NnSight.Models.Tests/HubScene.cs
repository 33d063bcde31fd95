using NnSight.Models.Hub;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Models.Tests;

/// <summary>
/// A fake hub and an empty HF_HOME for one test. Settings are passed to the resolver directly, never through the
/// process's environment, so tests run in parallel.
/// </summary>
internal sealed class HubScene : IDisposable
{
    private readonly TemporaryFolder _home = new();

    public FakeHub Hub { get; } = FakeHub.Start();

    /// <summary>HF_HOME/hub.</summary>
    public string Cache => Path.Combine(_home.FullPath, "hub");

    /// <summary>HF_HOME/token.</summary>
    public string TokenPath => Path.Combine(_home.FullPath, "token");

    /// <summary>Settings for the fake hub (or <paramref name="endpoint"/>) and this cache; resumes without pauses.</summary>
    public HubSettings Settings(string? token = null, bool offline = false, string? endpoint = null) =>
        new(endpoint ?? Hub.Endpoint, Cache, token, TokenPath, offline) { RetryDelay = TimeSpan.Zero };

    /// <summary>The cache folder of <paramref name="repoId"/>.</summary>
    public string RepoFolder(string repoId) => Path.Combine(Cache, "models--" + repoId.Replace("/", "--", StringComparison.Ordinal));

    /// <summary>Resolves <paramref name="model"/> without a progress bar or config check.</summary>
    public static ResolvedModel Resolve(string model, HubSettings settings, string? revision = null) =>
        HubResolver.Resolve(model, revision, settings, showProgress: false, _ => { });

    /// <summary>Loads <paramref name="model"/> on the CPU through <paramref name="settings"/>.</summary>
    public static LanguageModel Load(string model, HubSettings settings, string? revision = null) =>
        LanguageModel.Load(model, CPU, null, revision, showProgress: false, checkConfig: null, settings);

    /// <summary>The logits of a fixed batch, a copy the caller owns.</summary>
    public static Tensor Logits(LanguageModel model)
    {
        using var batch = model.Batch([[464, 412, 733, 318, 6342, 13]]);
        using var output = model.Forward(batch);
        return output.Logits.clone();
    }

    /// <summary>Whether two tensors have the same dtype, shape and every bit of value.</summary>
    public static bool BitEqual(Tensor expected, Tensor actual) =>
        expected.dtype == actual.dtype && expected.shape.SequenceEqual(actual.shape) && expected.eq(actual).all().item<bool>();

    /// <summary>An address where nothing listens: connections are refused at once.</summary>
    public static string DeadEndpoint() => $"http://127.0.0.1:{LoopbackPorts.Free()}";

    /// <summary>Every file under the cache, relative to it, with <c>/</c> separators.</summary>
    public List<string> CacheFiles() => Directory.Exists(Cache)
        ? [.. Directory.EnumerateFileSystemEntries(Cache, "*", SearchOption.AllDirectories)
            .Where(path => !Directory.Exists(path) || new FileInfo(path).LinkTarget is not null)
            .Select(path => Path.GetRelativePath(Cache, path).Replace('\\', '/')).Order(StringComparer.Ordinal)]
        : [];

    public void Dispose()
    {
        Hub.Dispose();
        _home.Dispose();
    }
}
