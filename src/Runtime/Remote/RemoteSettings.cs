using System.Text.Json;

namespace NnSight;

/// <summary>
/// Where and how a remote trace runs: the server, the API key, whether disposing the context waits for the result,
/// how long a request may take, and where status reports go.
/// </summary>
/// <param name="Server">The server's base address (<c>http://host:port</c>, or with a path: <c>http://host/nnsight</c>).</param>
/// <param name="ApiKey">The API key sent as <c>Authorization: Bearer</c>.</param>
public sealed record RemoteSettings(Uri Server, string? ApiKey = null)
{
    /// <summary>The environment variable naming the default server.</summary>
    public const string ServerVariable = "NNSIGHT_SERVER";

    /// <summary>The environment variable holding the default API key.</summary>
    public const string ApiKeyVariable = "NNSIGHT_API_KEY";

    private readonly TimeSpan _requestTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Wait for the result when the context is disposed (true), or only submit and return (false).</summary>
    public bool Blocking { get; init; } = true;

    /// <summary>
    /// How long submitting, a status request, or downloading the result may take before it fails with a
    /// <see cref="RemoteException"/> (default 5 minutes; <see cref="Timeout.InfiniteTimeSpan"/> for no limit), tries again
    /// across a server restart included. The status stream a waiting context follows has no limit: it lasts as long as
    /// the job.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is neither positive nor infinite.</exception>
    public TimeSpan RequestTimeout
    {
        get => _requestTimeout;
        init => _requestTimeout = value > TimeSpan.Zero || value == Timeout.InfiniteTimeSpan
            ? value
            : throw new ArgumentOutOfRangeException(nameof(RequestTimeout), value, "The request timeout must be positive (or Timeout.InfiniteTimeSpan).");
    }

    /// <summary>Where status reports are written as they arrive (null: nowhere).</summary>
    public TextWriter? Progress { get; init; } = Console.Error;

    /// <summary>
    /// The default settings: the server is <paramref name="server"/>, else <c>NNSIGHT_SERVER</c>; the key is
    /// <c>NNSIGHT_API_KEY</c>; what neither gives comes from <c>~/.nnsight/config.json</c>
    /// (<c>{"server": "...", "apiKey": "..."}</c>), which is read only then.
    /// </summary>
    /// <exception cref="RemoteException">No server is configured, or the config file had to be read and is malformed.</exception>
    public static RemoteSettings FromEnvironment(string? server = null)
    {
        var address = server ?? Environment.GetEnvironmentVariable(ServerVariable);
        var apiKey = Environment.GetEnvironmentVariable(ApiKeyVariable);
        if (address is null || apiKey is null)
        {
            var (fileServer, fileKey) = ReadConfigFile();
            address ??= fileServer;
            apiKey ??= fileKey;
        }
        return new RemoteSettings(new Uri(address ?? throw new RemoteException(
            $"remote: true needs a server: set {ServerVariable} (and {ApiKeyVariable}), write {ConfigFile}, or pass server: \"http://host:port\".")), apiKey);
    }

    /// <summary>The user's config file for remote execution.</summary>
    public static string ConfigFile => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nnsight", "config.json");

    private static (string? Server, string? ApiKey) ReadConfigFile()
    {
        var path = ConfigFile;
        if (!File.Exists(path))
        {
            return (null, null);
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException error)
        {
            throw new RemoteException($"{path} is not valid JSON ({error.Message}); it should hold {{\"server\": \"...\", \"apiKey\": \"...\"}}.");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new RemoteException($"{path} must hold a JSON object {{\"server\": \"...\", \"apiKey\": \"...\"}}, not {root.ValueKind}.");
            }
            string? Read(string key) => !root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null ? null
                : value.ValueKind == JsonValueKind.String ? value.GetString()
                : throw new RemoteException($"{path}: \"{key}\" must be a string, not {value.ValueKind}.");
            return (Read("server"), Read("apiKey"));
        }
    }
}
