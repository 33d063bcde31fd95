using YamlDotNet.Serialization;

namespace NnSight.Server;

/// <summary>
/// The server's <c>config.yaml</c>. Keys are upper case, as the NDIF server's: <c>PORT</c>, <c>RESPONSE_PATH</c>,
/// <c>MODELS</c> (id → model folder, relative to the config file), <c>API_KEYS</c> and <c>LIMITS</c>.
/// </summary>
public sealed class ServerConfig
{
    /// <summary>The TCP port to listen on.</summary>
    [YamlMember(Alias = "PORT")]
    public int Port { get; set; } = 5000;

    /// <summary>The address to listen on (loopback unless configured otherwise).</summary>
    [YamlMember(Alias = "HOST")]
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Where results are written (created if missing); at start only the server's own files there are deleted.</summary>
    [YamlMember(Alias = "RESPONSE_PATH")]
    public string ResponsePath { get; set; } = "responses";

    /// <summary>libtorch's compute threads; by default one less than the cores, so requests are answered while jobs run.</summary>
    [YamlMember(Alias = "TORCH_THREADS")]
    public int TorchThreads { get; set; } = Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>The models served, by id.</summary>
    [YamlMember(Alias = "MODELS")]
    public Dictionary<string, string> Models { get; set; } = [];

    /// <summary>The API keys that may submit jobs.</summary>
    [YamlMember(Alias = "API_KEYS")]
    public List<string> ApiKeys { get; set; } = [];

    /// <summary>What a request may ask for.</summary>
    [YamlMember(Alias = "LIMITS")]
    public ServerLimits Limits { get; set; } = new();

    /// <summary>Reads and checks <paramref name="path"/>; model folders become absolute.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid server config.</exception>
    public static ServerConfig Load(string path)
    {
        ServerConfig config;
        try
        {
            config = new DeserializerBuilder().Build().Deserialize<ServerConfig>(File.ReadAllText(path)) ?? new ServerConfig();
        }
        catch (YamlDotNet.Core.YamlException error)
        {
            throw new InvalidDataException($"{path}: {error.Message}", error);
        }
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        config.Models = config.Models.ToDictionary(model => model.Key, model => Path.GetFullPath(Path.Combine(directory, model.Value)));
        config.ResponsePath = Path.GetFullPath(Path.Combine(directory, config.ResponsePath));
        if (config.Models.Count == 0)
        {
            throw new InvalidDataException($"{path}: MODELS lists no model to serve.");
        }
        if (config.ApiKeys.Count == 0 || config.ApiKeys.Any(string.IsNullOrWhiteSpace))
        {
            throw new InvalidDataException($"{path}: API_KEYS must list at least one non-empty key.");
        }
        config.Limits.Check(path);
        return config;
    }
}

/// <summary>The <c>LIMITS</c> section.</summary>
public sealed class ServerLimits
{
    /// <summary>The most nodes a graph may have.</summary>
    [YamlMember(Alias = "MAX_NODES")]
    public int MaxNodes { get; set; } = 10_000;

    /// <summary>The most bytes all tensor constants of a graph may hold.</summary>
    [YamlMember(Alias = "MAX_CONSTANT_BYTES")]
    public long MaxConstantBytes { get; set; } = 16 << 20;

    /// <summary>The most tokens a generation may ask for.</summary>
    [YamlMember(Alias = "MAX_NEW_TOKENS")]
    public int MaxNewTokens { get; set; } = 256;

    /// <summary>The most bytes a request body may have (413 beyond).</summary>
    [YamlMember(Alias = "MAX_REQUEST_BYTES")]
    public long MaxRequestBytes { get; set; } = 32 << 20;

    /// <summary>How many jobs may wait (429 beyond).</summary>
    [YamlMember(Alias = "QUEUE_LENGTH")]
    public int QueueLength { get; set; } = 64;

    /// <summary>How many jobs run at once (jobs on one model always run one at a time).</summary>
    [YamlMember(Alias = "CONCURRENT_JOBS")]
    public int ConcurrentJobs { get; set; } = 2;

    /// <summary>How long a job may run before it ends in ERROR.</summary>
    [YamlMember(Alias = "JOB_TIMEOUT_SECONDS")]
    public double JobTimeoutSeconds { get; set; } = 300;

    /// <summary>How long a finished job's status and result are kept.</summary>
    [YamlMember(Alias = "RESULT_TTL_SECONDS")]
    public double ResultTtlSeconds { get; set; } = 3600;

    internal void Check(string path)
    {
        if (MaxNodes < 1 || MaxConstantBytes < 0 || MaxNewTokens < 1 || MaxRequestBytes < 1 || QueueLength < 1 || ConcurrentJobs < 1
            || JobTimeoutSeconds <= 0 || ResultTtlSeconds <= 0)
        {
            throw new InvalidDataException($"{path}: every LIMITS value must be positive.");
        }
    }
}
