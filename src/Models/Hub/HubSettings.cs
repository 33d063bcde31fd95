using System.Globalization;

namespace NnSight.Models.Hub;

/// <summary>
/// Where the HuggingFace hub and its cache are, read from the environment variables huggingface_hub reads, with its
/// defaults: the cache is <c>HF_HUB_CACHE</c>, else <c>HF_HOME/hub</c>, else <c>$XDG_CACHE_HOME/huggingface/hub</c>,
/// else <c>~/.cache/huggingface/hub</c>, so models Python tools downloaded are found and the other way round.
/// Tests build one directly instead of changing the process's environment.
/// </summary>
/// <param name="Endpoint">The hub's base address without a trailing slash (<c>HF_ENDPOINT</c>).</param>
/// <param name="CacheDirectory">The hub cache: <c>models--org--name</c> folders.</param>
/// <param name="Token">The access token sent as <c>Authorization: Bearer</c>, or null.</param>
/// <param name="TokenPath">The token file (<c>HF_TOKEN_PATH</c>, else <c>HF_HOME/token</c>), named in messages.</param>
/// <param name="Offline">Whether the network is never used (<c>HF_HUB_OFFLINE</c>).</param>
internal sealed record HubSettings(string Endpoint, string CacheDirectory, string? Token, string TokenPath, bool Offline)
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>How long a metadata request (a listing, a HEAD) may take (<c>HF_HUB_ETAG_TIMEOUT</c>, 10 s).</summary>
    public TimeSpan MetadataTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a download may wait for the next bytes (<c>HF_HUB_DOWNLOAD_TIMEOUT</c>, 10 s).</summary>
    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The pause before resuming a download whose connection broke; doubled at each further try.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Whether the token came from <c>HF_TOKEN</c> (else from <see cref="TokenPath"/>), for messages.</summary>
    public bool TokenFromVariable { get; init; }

    /// <summary>The settings of this process's environment.</summary>
    public static HubSettings FromEnvironment() => FromVariables(Environment.GetEnvironmentVariable);

    /// <summary>The settings that the variables <paramref name="variable"/> returns give (null or empty: unset).</summary>
    public static HubSettings FromVariables(Func<string, string?> variable)
    {
        string? Read(string name) => variable(name) is { Length: > 0 } value ? value : null;

        var home = ExpandHome(Read("HF_HOME")
            ?? Path.Combine(Read("XDG_CACHE_HOME") ?? Path.Combine(UserHome(), ".cache"), "huggingface"));
        var cache = ExpandHome(Read("HF_HUB_CACHE") ?? Read("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(home, "hub"));
        var tokenPath = ExpandHome(Read("HF_TOKEN_PATH") ?? Path.Combine(home, "token"));
        var variableToken = (Read("HF_TOKEN") ?? Read("HUGGING_FACE_HUB_TOKEN"))?.Trim();
        var token = variableToken is { Length: > 0 } ? variableToken : ReadTokenFile(tokenPath);
        return new HubSettings((Read("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/'), cache, token, tokenPath, EnvironmentFlags.IsTrue(Read("HF_HUB_OFFLINE")))
        {
            MetadataTimeout = Seconds(Read("HF_HUB_ETAG_TIMEOUT")) ?? TimeSpan.FromSeconds(10),
            DownloadTimeout = Seconds(Read("HF_HUB_DOWNLOAD_TIMEOUT")) ?? TimeSpan.FromSeconds(10),
            TokenFromVariable = variableToken is { Length: > 0 },
        };
    }

    /// <summary>Where a token can be put, for messages: the variable, and the file.</summary>
    public string TokenAdvice => $"set HF_TOKEN or write the token to {TokenPath}";

    /// <summary>Where the token sent came from, for messages.</summary>
    public string TokenOrigin => TokenFromVariable ? "HF_TOKEN" : TokenPath;

    private static TimeSpan? Seconds(string? value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? TimeSpan.FromSeconds(seconds) : null;

    private static string? ReadTokenFile(string path)
    {
        try
        {
            return File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } token ? token : null;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string UserHome() => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>A leading <c>~</c> is the user's home, as Python's <c>os.path.expanduser</c> reads it.</summary>
    private static string ExpandHome(string path) =>
        path == "~" ? UserHome()
        : path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~" + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? Path.Combine(UserHome(), path[2..])
            : path;
}
