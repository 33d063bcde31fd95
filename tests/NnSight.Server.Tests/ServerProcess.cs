using System.Diagnostics;
using NnSight.TestSupport;

namespace NnSight.Server.Tests;

/// <summary>
/// The real NnSight server as its own process on 127.0.0.1 with a fresh port, RESPONSE_PATH and config serving the
/// bundled tiny GPT-2 and tiny Llama, ready once it says it listens. Disposing kills it and deletes its folder.
/// </summary>
/// <remarks>
/// The server runs libtorch with this test process's thread count (TORCH_THREADS): reductions split over a different
/// number of threads round differently in the last bits, and the remote-equals-local tests compare bit for bit.
/// </remarks>
public sealed class ServerProcess : IDisposable
{
    public const string ApiKey = "test-key";
    public const string OtherApiKey = "other-key";

    /// <summary>
    /// Relative and absolute tolerance where bit equality is not the point of a test: float32 results that went through
    /// a different split of threads differ by a few units in the last place.
    /// </summary>
    public const double Rtol = 1e-5, Atol = 1e-6;

    private readonly TemporaryFolder _folder;
    private Process _process;

    public ServerProcess() : this(new Dictionary<string, string>(), "responses")
    {
    }

    /// <param name="limits">LIMITS values overriding the test config's.</param>
    /// <param name="responsePath">RESPONSE_PATH, relative to the config file.</param>
    /// <param name="settings">Further top-level config lines (QUEUE, QUEUE_NAME, STATE_PATH).</param>
    /// <param name="hashedKeys">List the keys in the config as <c>sha256:</c> hashes rather than as themselves.</param>
    private ServerProcess(IReadOnlyDictionary<string, string> limits, string responsePath, string settings = "", bool hashedKeys = false)
    {
        _folder = new TemporaryFolder();
        Port = LoopbackPorts.Free();
        ResponsePath = Path.GetFullPath(_folder.File(responsePath));
        File.WriteAllText(ConfigPath, Config(limits, responsePath, settings, hashedKeys));
        _process = Start();
    }

    /// <summary>The beginning of the line the server writes to standard output once it listens.</summary>
    public const string ListeningPrefix = "NnSight server listening on ";

    public int Port { get; }

    /// <summary>The line the server wrote when it last started listening.</summary>
    public string StartupLine { get; private set; } = "";

    public string ResponsePath { get; }

    public Uri Address => new($"http://127.0.0.1:{Port}/");

    public string ConfigPath => _folder.File("config.yaml");

    /// <summary>A server with <paramref name="limits"/> overriding the defaults of the test config.</summary>
    public static ServerProcess WithLimits(IReadOnlyDictionary<string, string> limits) => new(limits, "responses");

    /// <summary>A server whose RESPONSE_PATH is <paramref name="responsePath"/>, relative to its config file.</summary>
    public static ServerProcess WithResponsePath(string responsePath) => new(new Dictionary<string, string>(), responsePath);

    /// <summary>A server whose config lists its keys only as <c>sha256:</c> hashes.</summary>
    public static ServerProcess WithHashedKeys(IReadOnlyDictionary<string, string>? limits = null) =>
        new(limits ?? new Dictionary<string, string>(), "responses", hashedKeys: true);

    /// <summary>
    /// A replica of the set whose jobs live in Redis at <paramref name="redis"/> (<c>host:port</c>) under the key prefix
    /// <paramref name="queueName"/>; a test gives each of its sets a prefix of its own.
    /// </summary>
    public static ServerProcess Replica(string redis, string queueName, IReadOnlyDictionary<string, string>? limits = null, bool hashedKeys = false) =>
        new(limits ?? new Dictionary<string, string>(), "responses", $"QUEUE: redis://{redis}\nQUEUE_NAME: {queueName}\n", hashedKeys);

    /// <summary>The folder holding the config (and, by default, RESPONSE_PATH).</summary>
    public string Folder => _folder.FullPath;

    public RemoteSettings Settings(string? apiKey = ApiKey) => new(Address, apiKey) { Progress = null };

    /// <summary>Kills the process at once (no graceful shutdown), as a crash would.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>Starts the server again on the same port and folders.</summary>
    public void Restart()
    {
        var killed = _process;
        _process = Start();
        killed.Dispose();
    }

    public bool HasExited => _process.HasExited;

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }
        _process.Dispose();
        _folder.Dispose();
    }

    private string Config(IReadOnlyDictionary<string, string> limits, string responsePath, string settings, bool hashedKeys)
    {
        string Key(string key) => hashedKeys ? "sha256:" + ApiKeyHashes.OwnerOf(key) : key;
        var values = new Dictionary<string, string>
        {
            ["MAX_NODES"] = "2000",
            ["MAX_CONSTANT_BYTES"] = "1048576",
            ["MAX_NEW_TOKENS"] = "120",
            ["MAX_REQUEST_BYTES"] = "4194304",
            ["QUEUE_LENGTH"] = "64",
            ["CONCURRENT_JOBS"] = "2",
            ["JOB_TIMEOUT_SECONDS"] = "60",
            ["RESULT_TTL_SECONDS"] = "600",
        };
        foreach (var (key, value) in limits)
        {
            values[key] = value;
        }
        return $"""
            PORT: {Port}
            HOST: 127.0.0.1
            RESPONSE_PATH: "{responsePath}"
            TORCH_THREADS: {TorchSharp.torch.get_num_threads()}
            {settings.TrimEnd()}
            MODELS:
              tiny-gpt2: {RepositoryPaths.TinyGpt2}
              tiny-llama: {RepositoryPaths.TinyLlama}
            API_KEYS:
              - {Key(ApiKey)}
              - {Key(OtherApiKey)}
            LIMITS:
            {string.Join("\n", values.Select(pair => $"  {pair.Key}: {pair.Value}"))}
            """;
    }

    /// <summary>Starts the server and waits until it says it listens (the line <see cref="StartupLine"/>).</summary>
    private Process Start()
    {
        var server = Path.Combine(RepositoryPaths.Root, "src", "Server", "bin", Configuration, "net10.0", "NnSight.Server.dll");
        var start = new ProcessStartInfo("dotnet", $"\"{server}\" --config \"{ConfigPath}\"")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        var listening = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is null || line.Data.StartsWith(ListeningPrefix, StringComparison.Ordinal))
            {
                listening.TrySetResult(line.Data);
            }
        };
        process.ErrorDataReceived += (_, line) => errors.Enqueue(line.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!listening.Task.Wait(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The server did not say it listens within 60 s: {string.Join("\n", errors)}");
        }
        if (listening.Task.Result is not { } line)
        {
            process.WaitForExit();
            throw new InvalidOperationException($"The server exited with {process.ExitCode} before it was ready: {string.Join("\n", errors)}");
        }
        StartupLine = line;
        return process;
    }

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif
}
