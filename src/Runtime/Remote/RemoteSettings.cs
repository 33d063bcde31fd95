using System.Text.Json;

namespace NnSight;

/// <summary>
/// Where and how a remote trace runs: the server, the API key, whether disposing the context waits for the result,
/// and where status reports go.
/// </summary>
/// <param name="Server">The server's base address (<c>http://host:port</c>).</param>
/// <param name="ApiKey">The API key sent as <c>Authorization: Bearer</c>.</param>
public sealed record RemoteSettings(Uri Server, string? ApiKey = null)
{
    /// <summary>The environment variable naming the default server.</summary>
    public const string ServerVariable = "NNSIGHT_SERVER";

    /// <summary>The environment variable holding the default API key.</summary>
    public const string ApiKeyVariable = "NNSIGHT_API_KEY";

    /// <summary>Wait for the result when the context is disposed (true), or only submit and return (false).</summary>
    public bool Blocking { get; init; } = true;

    /// <summary>Where status reports are written as they arrive (null: nowhere).</summary>
    public TextWriter? Progress { get; init; } = Console.Error;

    /// <summary>
    /// The default settings: <c>NNSIGHT_SERVER</c> and <c>NNSIGHT_API_KEY</c>, else <c>~/.nnsight/config.json</c>
    /// (<c>{"server": "...", "apiKey": "..."}</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">No server is configured.</exception>
    public static RemoteSettings FromEnvironment(string? server = null)
    {
        var (fileServer, fileKey) = ReadConfigFile();
        var address = server ?? Environment.GetEnvironmentVariable(ServerVariable) ?? fileServer
            ?? throw new RemoteException(
                $"remote: true needs a server: set {ServerVariable} (and {ApiKeyVariable}), write {ConfigFile}, or pass server: \"http://host:port\".");
        return new RemoteSettings(new Uri(address), Environment.GetEnvironmentVariable(ApiKeyVariable) ?? fileKey);
    }

    /// <summary>The user's config file for remote execution.</summary>
    public static string ConfigFile => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nnsight", "config.json");

    private static (string? Server, string? ApiKey) ReadConfigFile()
    {
        if (!File.Exists(ConfigFile))
        {
            return (null, null);
        }
        using var document = JsonDocument.Parse(File.ReadAllBytes(ConfigFile));
        string? Read(string key) => document.RootElement.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        return (Read("server"), Read("apiKey"));
    }
}
