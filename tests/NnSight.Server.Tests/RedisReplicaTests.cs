using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using NnSight.Models;
using NnSight.TestSupport;
using StackExchange.Redis;

namespace NnSight.Server.Tests;

/// <summary>
/// Replica sets on one Redis (real server processes on loopback ports): a replica killed mid-run, Redis restarted
/// mid-run, a job that kills every replica it reaches. Each set has a key prefix of its own, so tests run in parallel on
/// one Redis.
/// </summary>
public sealed partial class RedisReplicaTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private static readonly string[] Prompts =
    [
        "The Eiffel Tower is in the city of",
        "Madison square garden is located in the city of New",
        "When John and Mary went to the shops, John gave the bag to",
        "_ _ _ _ _ _ _ _ _ _",
    ];

    /// <summary>
    /// Tokens each job generates: enough that a job seen running is still running when its replica is killed (with 4,
    /// a loaded machine sometimes let the victim finish first).
    /// </summary>
    private const int NewTokens = 48;

    /// <summary>How long a silent replica keeps its job: short, so a test sees the takeover soon.</summary>
    private static readonly Dictionary<string, string> QuickTakeover = new() { ["CLAIM_IDLE_SECONDS"] = "2" };

    [RedisFact]
    public async Task Three_replicas_with_one_killed_mid_run_give_eight_clients_their_32_results_once()
    {
        var queue = RedisServer.QueueName();
        var replicas = Enumerable.Range(0, 3).Select(_ => ServerProcess.Replica(RedisServer.Shared, queue, QuickTakeover)).ToList();
        using var redis = RedisServer.Connect(RedisServer.Shared);
        try
        {
            var victim = replicas[2];
            var victimName = ReplicaName(victim);
            var expected = Prompts.Select((prompt, index) => Run(fixture.Model, prompt, index, remote: null)).ToList();
            using var stop = new CancellationTokenSource();
            var killed = Task.Run(async () =>
            {
                // Kill the victim while it runs a job; a supervisor brings it back (as a new consumer).
                var job = await RunningOn(redis.GetDatabase(), queue, victimName, stop.Token);
                victim.Kill();
                victim.Restart();
                return job;
            });

            var results = new ConcurrentBag<(string Job, int Prompt, TorchSharp.torch.Tensor Value)>();
            await Task.WhenAll(Enumerable.Range(0, 8).Select(client => Task.Run(() =>
            {
                using var model = LanguageModel.FromPretrained(RepositoryPaths.TinyGpt2);
                var settings = replicas[client % 3].Settings() with { RequestTimeout = TimeSpan.FromMinutes(2) };
                for (var request = 0; request < 4; request++)
                {
                    var index = (client + request) % Prompts.Length;
                    var (job, value) = RunRemote(model, Prompts[index], index, settings);
                    results.Add((job, index, value));
                }
            })));
            stop.Cancel();
            var takenOver = await killed;

            Assert.Equal(32, results.Count);
            Assert.Equal(32, results.Select(result => result.Job).Distinct().Count());
            foreach (var (_, index, value) in results)
            {
                TensorAssert.Close(expected[index], value, ServerProcess.Rtol, ServerProcess.Atol, $"prompt {index}");
            }
            var db = redis.GetDatabase();
            foreach (var (job, _, _) in results)
            {
                var finals = (await db.ListRangeAsync($"{queue}:job:{job}:events")).Count(status =>
                    ((string)status!).Contains("\"COMPLETED\"", StringComparison.Ordinal) || ((string)status!).Contains("\"ERROR\"", StringComparison.Ordinal));
                Assert.Equal(1, finals);
            }
            var taken = await db.HashGetAsync($"{queue}:job:{takenOver}", ["state", "deliveries", "replica"]);
            Assert.Equal(RemoteJobStates.Completed, (string?)taken[0]);
            Assert.Equal("2", (string?)taken[1]);
            Assert.NotEqual(victimName, (string?)taken[2]);
            Assert.Equal(0, await db.StreamLengthAsync($"{queue}:jobs:tiny-gpt2"));
            Assert.Equal(0, (await db.StreamPendingAsync($"{queue}:jobs:tiny-gpt2", RedisJobs.Group)).PendingMessageCount);
        }
        finally
        {
            replicas.ForEach(replica => replica.Dispose());
        }
    }

    [RedisFact(restartsRedis: true)]
    public async Task A_Redis_restarted_mid_run_loses_no_job_and_meanwhile_a_submission_gets_503_naming_it()
    {
        using var redis = RedisServer.StartPrivate();
        var queue = RedisServer.QueueName();
        using var first = ServerProcess.Replica(redis.Address, queue, QuickTakeover);
        using var second = ServerProcess.Replica(redis.Address, queue, QuickTakeover);
        using var client = new ServerClient(first);
        var expected = Prompts.Select((prompt, index) => Run(fixture.Model, prompt, index, remote: null)).ToList();
        var completed = 0;
        var results = new ConcurrentBag<(int Prompt, TorchSharp.torch.Tensor Value)>();
        var clients = Enumerable.Range(0, 4).Select(index => Task.Run(() =>
        {
            using var model = LanguageModel.FromPretrained(RepositoryPaths.TinyGpt2);
            var settings = (index % 2 == 0 ? first : second).Settings() with { RequestTimeout = TimeSpan.FromMinutes(2) };
            for (var request = 0; request < 3; request++)
            {
                var prompt = (index + request) % Prompts.Length;
                results.Add((prompt, RunRemote(model, Prompts[prompt], prompt, settings).Value));
                Interlocked.Increment(ref completed);
            }
        })).ToList();
        while (Volatile.Read(ref completed) < 2)
        {
            await Task.Delay(20);
        }

        redis.Kill();
        var (status, error) = ServerClient.ErrorOf(client.Submit(ServerClient.ValidRequest(fixture.Model).ToJsonString()));
        await Task.Delay(TimeSpan.FromSeconds(1));
        redis.Restart();
        await Task.WhenAll(clients).WaitAsync(TimeSpan.FromMinutes(3));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.StartsWith($"The job queue (Redis at {redis.Address}) cannot be reached: ", error, StringComparison.Ordinal);
        Assert.EndsWith("This replica recovers when Redis is back; try again shortly.", error, StringComparison.Ordinal);
        Assert.Equal(12, results.Count);
        foreach (var (prompt, value) in results)
        {
            TensorAssert.Close(expected[prompt], value, ServerProcess.Rtol, ServerProcess.Atol, $"prompt {prompt}");
        }
        Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(client.SubmitJob(ServerClient.ValidRequest(fixture.Model).ToJsonString())).Status);
    }

    [RedisFact]
    public void A_job_whose_replica_dies_more_than_max_deliveries_times_ends_in_error()
    {
        var queue = RedisServer.QueueName();
        var limits = new Dictionary<string, string>(QuickTakeover) { ["MAX_DELIVERIES"] = "1" };
        using var doomed = ServerProcess.Replica(RedisServer.Shared, queue, limits);
        string job;
        using (var client = new ServerClient(doomed))
        {
            job = client.SubmitJob(ServerClient.SlowRequest(fixture.Model).ToJsonString());
            client.WaitFor(job, RemoteJobStates.Running);
        }

        doomed.Kill();
        using var next = ServerProcess.Replica(RedisServer.Shared, queue, limits);
        using var nextClient = new ServerClient(next);
        var status = nextClient.WaitFinal(job);

        Assert.Equal(RemoteJobStates.Error, status.Status);
        Assert.Equal("The job was delivered 2 times and no replica finished it (each stopped while running it); it is not run again (LIMITS.MAX_DELIVERIES is 1).", status.Message);
        Assert.Equal(RemoteJobStates.Completed, nextClient.WaitFinal(nextClient.SubmitJob(ServerClient.ValidRequest(fixture.Model).ToJsonString())).Status);
    }

    /// <summary>The consumer name a replica printed when it started.</summary>
    private static string ReplicaName(ServerProcess replica) => ReplicaInStartupLine().Match(replica.StartupLine).Groups[1].Value;

    /// <summary>
    /// Waits until a job of <paramref name="queue"/> is RUNNING on replica <paramref name="replica"/>; returns its id. It
    /// listens where the replicas announce every change of state, so it sees a job start within a round trip.
    /// </summary>
    private static async Task<string> RunningOn(IDatabase db, string queue, string replica, CancellationToken stop)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var channel = RedisChannel.Literal($"{queue}:status");
        var subscriber = db.Multiplexer.GetSubscriber();
        await subscriber.SubscribeAsync(channel, (from, message) => _ = Task.Run(async () =>
        {
            var id = (string)message!;
            var fields = await db.HashGetAsync($"{queue}:job:{id}", ["state", "replica"]);
            if ((string?)fields[0] == RemoteJobStates.Running && (string?)fields[1] == replica)
            {
                found.TrySetResult(id);
            }
        }));
        try
        {
            return await found.Task.WaitAsync(stop);
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel);
        }
    }

    /// <summary>
    /// <see cref="NewTokens"/> greedy tokens after <paramref name="prompt"/>, saving block <paramref name="index"/> % 4's
    /// hidden states of the prompt (the generation makes the job last long enough to be caught running).
    /// </summary>
    private static TorchSharp.torch.Tensor Run(LanguageModel model, string prompt, int index, RemoteSettings? remote) =>
        Record(model, prompt, index, remote).Value;

    private static (string Job, TorchSharp.torch.Tensor Value) RunRemote(LanguageModel model, string prompt, int index, RemoteSettings remote)
    {
        var (value, job) = Record(model, prompt, index, remote);
        return (job!, value);
    }

    private static (TorchSharp.torch.Tensor Value, string? Job) Record(LanguageModel model, string prompt, int index, RemoteSettings? remote)
    {
        TensorProxy saved;
        var options = new GenerationOptions { EosTokenId = -1 };
        var tracer = remote is null ? model.Generate(NewTokens, options) : model.Generate(NewTokens, options, remote);
        using (tracer)
        using (tracer.Invoke(prompt))
        {
            saved = model.Envoy("transformer.h")[index % 4].Output[0].Token[^1].Save();
        }
        return (saved.Value, tracer.Job?.Id);
    }

    [GeneratedRegex(@"replica ([^)]+)\)")]
    private static partial Regex ReplicaInStartupLine();
}

/// <summary>Two replicas of one set — one whose config lists its keys as hashes, one as themselves — started on first use.</summary>
public sealed class ReplicaPair : IDisposable
{
    private readonly Lazy<(ServerProcess Hashed, ServerProcess Plain, string Queue)> _replicas = new(() =>
    {
        var queue = RedisServer.QueueName();
        return (ServerProcess.Replica(RedisServer.Shared, queue, hashedKeys: true), ServerProcess.Replica(RedisServer.Shared, queue), queue);
    });

    public ServerProcess Hashed => _replicas.Value.Hashed;

    public ServerProcess Plain => _replicas.Value.Plain;

    public string Queue => _replicas.Value.Queue;

    public void Dispose()
    {
        if (_replicas.IsValueCreated)
        {
            _replicas.Value.Hashed.Dispose();
            _replicas.Value.Plain.Dispose();
        }
    }
}

/// <summary>Every replica refuses hostile input as the single server does; keys and ownership hold across replicas.</summary>
public sealed class RedisReplicaProtocolTests(TinyGpt2Fixture fixture, ReplicaPair pair) : IClassFixture<TinyGpt2Fixture>, IClassFixture<ReplicaPair>
{
    [RedisTheory]
    [MemberData(nameof(ProtocolTests.Hostile), MemberType = typeof(ProtocolTests))]
    public void Hostile_input_is_refused_clearly_on_every_replica(string kind, HttpStatusCode expected, string message)
    {
        var body = ProtocolTests.HostileBody(fixture.Model, kind);
        foreach (var replica in new[] { pair.Hashed, pair.Plain })
        {
            using var client = new ServerClient(replica);

            var (status, error) = ServerClient.ErrorOf(client.Submit(body));

            Assert.Equal(expected, status);
            Assert.Contains(message, error, StringComparison.Ordinal);
            Assert.True(client.IsHealthy());
        }
    }

    [RedisFact]
    public async Task A_submission_repeated_on_another_replica_gets_the_same_job_which_runs_once()
    {
        using var first = new ServerClient(pair.Hashed);
        using var second = new ServerClient(pair.Plain);
        var request = ServerClient.ValidRequest(fixture.Model).ToJsonString();
        var key = Guid.NewGuid().ToString("N");

        var (firstStatus, job) = first.SubmitOnce(request, key);
        var (repeatStatus, repeated) = second.SubmitOnce(request, key);

        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.OK, job), (firstStatus, repeatStatus, repeated));
        Assert.Equal(RemoteJobStates.Completed, second.WaitFinal(job).Status);
        Assert.Equal((HttpStatusCode.OK, job), first.SubmitOnce(request, key));
        using var redis = RedisServer.Connect(RedisServer.Shared);
        var events = await redis.GetDatabase().ListRangeAsync($"{pair.Queue}:job:{job}:events");
        Assert.Equal(1, events.Count(status => ((string)status!).Contains("\"RUNNING\"", StringComparison.Ordinal)));
        Assert.Equal(1, events.Count(status => ((string)status!).Contains("\"COMPLETED\"", StringComparison.Ordinal)));
    }

    [RedisFact]
    public async Task A_job_submitted_to_one_replica_is_answered_by_another_for_its_key_only_and_Redis_holds_no_key()
    {
        using var submitter = new ServerClient(pair.Hashed);
        using var other = new ServerClient(pair.Plain);

        var job = submitter.SubmitJob(ServerClient.ValidRequest(fixture.Model).ToJsonString());

        Assert.Equal(RemoteJobStates.Completed, other.WaitFinal(job).Status);
        Assert.NotEmpty(other.Result(job));
        foreach (var path in new[] { $"v1/jobs/{job}", $"v1/jobs/{job}/events", $"v1/jobs/{job}/result" })
        {
            using var foreign = other.Get(path, ServerProcess.OtherApiKey);
            using var anonymous = other.Get(path, apiKey: null);
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }
        using var redis = RedisServer.Connect(RedisServer.Shared);
        var db = redis.GetDatabase();
        Assert.Equal(ApiKeyHashes.OwnerOf(ServerProcess.ApiKey), (string?)await db.HashGetAsync($"{pair.Queue}:job:{job}", "owner"));
        var keys = redis.GetServers()[0].Keys(pattern: $"{pair.Queue}:*").ToList();
        Assert.NotEmpty(keys);
        foreach (var key in keys)
        {
            var values = await db.KeyTypeAsync(key) switch
            {
                RedisType.Hash => (await db.HashGetAllAsync(key)).SelectMany(entry => new[] { entry.Name, entry.Value }),
                RedisType.List => await db.ListRangeAsync(key),
                RedisType.String => [await db.StringGetAsync(key)],
                RedisType.Stream => (await db.StreamRangeAsync(key)).SelectMany(entry => entry.Values).SelectMany(entry => new[] { entry.Name, entry.Value }),
                _ => [],
            };
            foreach (var value in values.Where(value => !value.IsNull))
            {
                var bytes = (byte[])value!;
                Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(ServerProcess.ApiKey)) < 0, $"{key} holds the key");
            }
        }
    }
}
