using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using NnSight.Models;

namespace NnSight.Benchmarks;

/// <summary>
/// Jobs per second of the real server on the bundled tiny models: one server with its embedded journal, one replica
/// on Redis, and three replicas on one Redis, each under the same load (8 clients, each running blocking remote traces
/// one after another, alternating tiny GPT-2 and tiny Llama, spread over the replicas), three rounds in turn; then the
/// time a replica set takes to recover the job of a replica killed while running it (takeover: the first status of the
/// job's next delivery; done: COMPLETED). Redis runs with its append-only file fsynced at every write, as the README
/// asks of a production Redis. Needs redis-server on the PATH.
/// </summary>
internal static partial class ServerThroughput
{
    private const string ApiKey = "benchmark-key";
    private const int Clients = 8;
    private const double ClaimIdleSeconds = 5;

    private static readonly long[] Short = [464, 412, 79, 301, 318, 287, 262, 281, 286, 117];
    private static readonly long[] Long = [215, 175, 290, 55, 181, 284, 262, 124, 11, 175, 221, 262, 131, 284];

    public static void Run(int jobsPerClient)
    {
        var root = BenchmarkPaths.RepositoryRoot();
        var folder = Directory.CreateTempSubdirectory("nnsight-server-throughput-").FullName;
        Process? redis = null;
        try
        {
            Build(root);
            var redisPort = RemoteSessionTraffic.FreePort();
            redis = StartRedis(redisPort, Directory.CreateDirectory(Path.Combine(folder, "redis")).FullName);
            var address = $"127.0.0.1:{redisPort}";
            (string Name, int Replicas, string? Redis)[] sets = [("one server (embedded journal)", 1, null), ("1 replica (Redis)", 1, address), ("3 replicas (Redis)", 3, address)];
            var rates = sets.ToDictionary(set => set.Name, _ => new List<double>());
            for (var round = 0; round < 3; round++)
            {
                foreach (var (name, replicas, queue) in sets)
                {
                    var servers = Enumerable.Range(0, replicas).Select(index => Server.Start(root, folder, queue, $"{name}-{round}-{index}")).ToList();
                    try
                    {
                        rates[name].Add(JobsPerSecond(root, servers, jobsPerClient));
                    }
                    finally
                    {
                        servers.ForEach(server => server.Dispose());
                    }
                }
            }
            Console.WriteLine($"Jobs per second: {Clients} clients x {jobsPerClient} blocking remote traces each (one forward, alternating tiny GPT-2 and tiny Llama), " +
                $"TORCH_THREADS {Server.TorchThreads} per process, {Environment.ProcessorCount} cores");
            foreach (var (name, values) in rates)
            {
                Console.WriteLine($"  {name,-30} {string.Join("  ", values.Select(value => $"{value,6:F1}"))}");
            }
            var recoveries = Enumerable.Range(0, 3).Select(attempt => Recover(root, folder, address, attempt)).ToList();
            Console.WriteLine($"A replica killed while running a job, CLAIM_IDLE_SECONDS {ClaimIdleSeconds}: seconds from the kill until");
            Console.WriteLine($"  another replica starts it    {string.Join("  ", recoveries.Select(recovery => $"{recovery.TakenOver,5:F1}"))}");
            Console.WriteLine($"  its result is ready          {string.Join("  ", recoveries.Select(recovery => $"{recovery.Completed,5:F1}"))}");
        }
        finally
        {
            if (redis is not null)
            {
                redis.Kill(entireProcessTree: true);
                redis.WaitForExit();
                redis.Dispose();
            }
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Runs the clients' jobs against <paramref name="servers"/> (client i on server i mod n) and returns jobs per second.</summary>
    private static double JobsPerSecond(string root, IReadOnlyList<Server> servers, int jobsPerClient)
    {
        var models = Enumerable.Range(0, Clients).Select(_ => Models(root)).ToList();
        try
        {
            // Warm-up: each server runs each model once before the clock starts.
            foreach (var server in servers)
            {
                foreach (var model in models[0])
                {
                    Trace(model, server.Settings, 0);
                }
            }
            var clock = Stopwatch.StartNew();
            Parallel.For(0, Clients, new ParallelOptions { MaxDegreeOfParallelism = Clients }, client =>
            {
                for (var job = 0; job < jobsPerClient; job++)
                {
                    Trace(models[client][job % 2], servers[client % servers.Count].Settings, job);
                }
            });
            return Clients * jobsPerClient / clock.Elapsed.TotalSeconds;
        }
        finally
        {
            models.SelectMany(pair => pair).ToList().ForEach(model => model.Dispose());
        }
    }

    /// <summary>A blocking remote trace: one forward over a prompt, saving a block's output at the last token.</summary>
    private static void Trace(LanguageModel model, RemoteSettings settings, int job)
    {
        TensorProxy saved;
        using (var tracer = model.Trace(settings))
        // Token ids within both vocabularies (tiny Llama has 512 and no tokenizer): 10 or 14 tokens.
        using (tracer.Invoke(job % 3 == 0 ? Short : Long))
        {
            saved = model.Envoy(model.RemoteId == "tiny-gpt2" ? "transformer.h.1" : "model.layers.1").Output[0].Token[^1].Save();
        }
        saved.Value.Dispose();
    }

    private static LanguageModel[] Models(string root)
    {
        var gpt2 = LanguageModel.FromPretrained(Path.Combine(root, "models", "tiny-gpt2"));
        var llama = LanguageModel.FromPretrained(Path.Combine(root, "models", "tiny-llama"));
        return [gpt2, llama];
    }

    /// <summary>
    /// Two replicas; a long job; the replica running it killed as soon as it reports so; the seconds until the other
    /// replica reports its next delivery, and until it is COMPLETED.
    /// </summary>
    private static (double TakenOver, double Completed) Recover(string root, string folder, string redis, int attempt)
    {
        var servers = Enumerable.Range(0, 2).Select(index => Server.Start(root, folder, redis, $"recover-{attempt}-{index}", ClaimIdleSeconds)).ToList();
        try
        {
            using var model = LanguageModel.FromPretrained(Path.Combine(root, "models", "tiny-gpt2"));
            var tracer = model.Generate(100, new GenerationOptions { EosTokenId = -1 }, servers[0].Settings with { Blocking = false });
            using (tracer)
            using (tracer.Invoke(Enumerable.Repeat("The Eiffel Tower is in the city of", 32).ToArray()))
            {
                model.Envoy("transformer.h.1").Output[0].Token[^1].Save();
            }
            var id = tracer.Job!.Id;
            var runner = servers.Single(server => server.Replica == ReplicaOf(FirstLog(servers[0], id, "replica ")));
            var survivor = servers.Single(server => server != runner);
            runner.Dispose();
            var clock = Stopwatch.StartNew();
            FirstLog(survivor, id, "delivery 2");
            var takenOver = clock.Elapsed.TotalSeconds;
            FirstLog(survivor, id, $"\"{RemoteJobStates.Completed}\"");
            return (takenOver, clock.Elapsed.TotalSeconds);
        }
        finally
        {
            servers.ForEach(server => server.Dispose());
        }
    }

    /// <summary>Follows job <paramref name="id"/>'s status stream on <paramref name="server"/> until a status whose text holds <paramref name="text"/>.</summary>
    private static string FirstLog(Server server, string id, string text)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.Settings.Server, $"v1/jobs/{id}/events"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        using var response = http.Send(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(response.Content.ReadAsStream());
        while (reader.ReadLine() is { } line)
        {
            if (line.Contains(text, StringComparison.Ordinal))
            {
                return line;
            }
        }
        throw new InvalidOperationException($"Job {id}'s status stream ended without \"{text}\".");
    }

    private static string ReplicaOf(string line) => ReplicaName().Match(line).Groups[1].Value;

    private static void Build(string root)
    {
        using var build = Process.Start(new ProcessStartInfo("dotnet", $"build \"{Path.Combine(root, "src", "Server")}\" -c Release -nologo -v q") { RedirectStandardOutput = true })!;
        build.StandardOutput.ReadToEnd();
        build.WaitForExit();
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException("The server did not build.");
        }
    }

    private static Process StartRedis(int port, string folder)
    {
        Process redis;
        try
        {
            redis = Process.Start(new ProcessStartInfo("redis-server",
                $"--port {port} --bind 127.0.0.1 --dir \"{folder}\" --save \"\" --appendonly yes --appendfsync always --logfile \"{Path.Combine(folder, "redis.log")}\""))!;
        }
        catch (System.ComponentModel.Win32Exception error)
        {
            throw new InvalidOperationException("server-throughput needs redis-server on the PATH (apt-get install redis-server).", error);
        }
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                using var client = new System.Net.Sockets.TcpClient("127.0.0.1", port);
                return redis;
            }
            catch (System.Net.Sockets.SocketException)
            {
                Thread.Sleep(50);
            }
        }
        throw new InvalidOperationException("redis-server did not start.");
    }

    [GeneratedRegex(@"replica ([^,)]+)")]
    private static partial Regex ReplicaName();

    /// <summary>One server process (Release build) serving both tiny models, embedded or a replica on Redis.</summary>
    private sealed class Server : IDisposable
    {
        /// <summary>The server's default: one less than the cores.</summary>
        public static int TorchThreads => Math.Max(1, Environment.ProcessorCount - 1);

        private readonly Process _process;
        private bool _disposed;

        private Server(Process process, RemoteSettings settings, string replica)
        {
            _process = process;
            Settings = settings;
            Replica = replica;
        }

        public RemoteSettings Settings { get; }

        /// <summary>The replica's consumer name, from the line it prints at start (empty for an embedded server).</summary>
        public string Replica { get; }

        public static Server Start(string root, string folder, string? redis, string name, double claimIdleSeconds = 15)
        {
            var port = RemoteSessionTraffic.FreePort();
            var config = Path.Combine(Directory.CreateDirectory(Path.Combine(folder, name)).FullName, "config.yaml");
            File.WriteAllText(config, $"""
                PORT: {port}
                HOST: 127.0.0.1
                RESPONSE_PATH: responses
                {(redis is null ? "" : $"QUEUE: redis://{redis}\nQUEUE_NAME: {QueueName(name)}")}
                MODELS:
                  tiny-gpt2: {Path.Combine(root, "models", "tiny-gpt2")}
                  tiny-llama: {Path.Combine(root, "models", "tiny-llama")}
                API_KEYS:
                  - {ApiKey}
                LIMITS:
                  CLAIM_IDLE_SECONDS: {claimIdleSeconds}
                  QUEUE_LENGTH: 256
                """);
            var dll = Path.Combine(root, "src", "Server", "bin", "Release", "net10.0", "NnSight.Server.dll");
            var process = Process.Start(new ProcessStartInfo("dotnet", $"\"{dll}\" --config \"{config}\"") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var listening = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
            process.OutputDataReceived += (_, line) =>
            {
                if (line.Data is null || line.Data.StartsWith("NnSight server listening on ", StringComparison.Ordinal))
                {
                    listening.TrySetResult(line.Data);
                }
            };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!listening.Task.Wait(TimeSpan.FromMinutes(2)) || listening.Task.Result is not { } startup)
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"The server {name} did not start.");
            }
            var settings = new RemoteSettings(new Uri($"http://127.0.0.1:{port}/"), ApiKey) { Progress = null };
            return new Server(process, settings, ReplicaName().Match(startup).Groups[1].Value);
        }

        /// <summary>The set's key prefix: the server's name without its index, letters and digits only.</summary>
        private static string QueueName(string name) => "bench-" + new string([.. name[..name.LastIndexOf('-')].Where(char.IsAsciiLetterOrDigit)]);

        /// <summary>Kills the process at once (no graceful shutdown), as a crash would; a second call does nothing.</summary>
        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
            _process.Dispose();
        }
    }
}
