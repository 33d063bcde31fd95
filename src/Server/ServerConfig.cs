using YamlDotNet.Serialization;

namespace NnSight.Server;

/// <summary>
/// The server's <c>config.yaml</c>. Keys are upper case, as the NDIF server's: <c>PORT</c>, <c>RESPONSE_PATH</c>,
/// <c>STATE_PATH</c>, <c>QUEUE</c>, <c>MODELS</c> (id → model folder, relative to the config file), <c>API_KEYS</c> and
/// <c>LIMITS</c>.
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

    /// <summary>
    /// Where the job journal is kept (created if missing; by default RESPONSE_PATH): each accepted job's request and
    /// state, so queued and running jobs run again after a restart and finished ones stay until they expire.
    /// </summary>
    [YamlMember(Alias = "STATE_PATH")]
    public string? StatePath { get; set; }

    /// <summary>
    /// Null for the embedded queue (one process, journaled on disk), or <c>redis://host:port</c> for a replica set that
    /// shares one Redis: its streams, statuses and results.
    /// </summary>
    [YamlMember(Alias = "QUEUE")]
    public string? Queue { get; set; }

    /// <summary>The prefix of every Redis key the replica set uses, so several deployments can share one Redis.</summary>
    [YamlMember(Alias = "QUEUE_NAME")]
    public string QueueName { get; set; } = "nnsight";

    /// <summary>libtorch's compute threads; by default one less than the cores, so requests are answered while jobs run.</summary>
    [YamlMember(Alias = "TORCH_THREADS")]
    public int TorchThreads { get; set; } = Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>The models served, by id.</summary>
    [YamlMember(Alias = "MODELS")]
    public Dictionary<string, string> Models { get; set; } = [];

    /// <summary>
    /// The API keys that may submit jobs: each the key itself or its SHA-256 as <c>sha256:</c> and 64 hex digits. Only
    /// the hashes are kept in memory after loading, and only they reach the journal or Redis.
    /// </summary>
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
        config.StatePath = config.StatePath is { } state ? Path.GetFullPath(Path.Combine(directory, state)) : null;
        if (config.Models.Count == 0)
        {
            throw new InvalidDataException($"{path}: MODELS lists no model to serve.");
        }
        if (config.ApiKeys.Count == 0 || config.ApiKeys.Any(string.IsNullOrWhiteSpace))
        {
            throw new InvalidDataException($"{path}: API_KEYS must list at least one non-empty key.");
        }
        try
        {
            config.KeyHashes = new ApiKeyHashes(config.ApiKeys);
            _ = config.RedisEndpoint;
        }
        catch (FormatException error)
        {
            throw new InvalidDataException($"{path}: {error.Message}", error);
        }
        // The raw keys are not kept once hashed.
        config.ApiKeys = [.. config.KeyHashes.Entries];
        config.Limits.Check(path);
        return config;
    }

    /// <summary>The folder of the job journal: STATE_PATH, else RESPONSE_PATH.</summary>
    internal string JournalPath => StatePath ?? ResponsePath;

    /// <summary>The hashes of <see cref="ApiKeys"/>.</summary>
    internal ApiKeyHashes KeyHashes
    {
        get => field ??= new ApiKeyHashes(ApiKeys);
        private set;
    }

    /// <summary>
    /// QUEUE's Redis address as StackExchange.Redis configuration (<c>host:port</c>, with <c>password=</c> when the
    /// address has one: <c>redis://:secret@host:port</c>), or null for the embedded queue.
    /// </summary>
    /// <exception cref="FormatException">QUEUE is not a <c>redis://host:port</c> address.</exception>
    internal string? RedisEndpoint
    {
        get
        {
            if (string.IsNullOrWhiteSpace(Queue))
            {
                return null;
            }
            if (!Uri.TryCreate(Queue, UriKind.Absolute, out var uri) || uri.Scheme != "redis" || uri.Port < 1
                || uri.AbsolutePath is not ("" or "/") || string.IsNullOrEmpty(uri.Host))
            {
                throw new FormatException($"QUEUE must be redis://host:port (optionally redis://:password@host:port), not \"{Queue}\".");
            }
            var password = uri.UserInfo.Split(':', 2) is [_, { Length: > 0 } secret] ? Uri.UnescapeDataString(secret) : null;
            return $"{uri.Host}:{uri.Port}" + (password is null ? "" : $",password={password}");
        }
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

    /// <summary>
    /// How many times a job may be started: a job whose server (or replica) stopped while running it this many times
    /// ends in ERROR instead of running again.
    /// </summary>
    [YamlMember(Alias = "MAX_DELIVERIES")]
    public int MaxDeliveries { get; set; } = 3;

    /// <summary>With Redis: how long a running job's replica may stay silent before another replica takes the job over.</summary>
    [YamlMember(Alias = "CLAIM_IDLE_SECONDS")]
    public double ClaimIdleSeconds { get; set; } = 15;

    internal void Check(string path)
    {
        if (MaxNodes < 1 || MaxConstantBytes < 0 || MaxNewTokens < 1 || MaxRequestBytes < 1 || QueueLength < 1 || ConcurrentJobs < 1
            || JobTimeoutSeconds <= 0 || ResultTtlSeconds <= 0 || MaxDeliveries < 1 || ClaimIdleSeconds <= 0)
        {
            throw new InvalidDataException($"{path}: every LIMITS value must be positive.");
        }
    }
}
