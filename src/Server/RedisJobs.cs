using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using NnSight.Models;
using StackExchange.Redis;

namespace NnSight.Server;

/// <summary>
/// A replica of a set sharing one Redis (<c>QUEUE: redis://host:port</c>). Each served model has a stream that every
/// replica serving it reads through one consumer group, so each job goes to one replica; statuses, their history and
/// results live in Redis, so any replica answers for any job. A replica takes a job only for an idle model of its own
/// (one job at a time per model, CONCURRENT_JOBS in all), keeps the job's entry fresh while it runs, and takes over a
/// job whose replica has been silent for CLAIM_IDLE_SECONDS (XAUTOCLAIM); a job delivered more than MAX_DELIVERIES
/// times ends in ERROR. Every change is one Lua script (<see cref="RedisScripts"/>). When Redis cannot be reached,
/// requests get 503 and the workers wait; both recover by themselves when it returns. See
/// docs/architecture.md#the-job-journal-and-the-redis-queue.
/// </summary>
internal sealed partial class RedisJobs : BackgroundService, IJobBackend
{
    /// <summary>The consumer group of every model's stream.</summary>
    public const string Group = "replicas";

    /// <summary>The largest value Redis stores by default (proto-max-bulk-len), which bounds a result.</summary>
    private const long MaxResultBytes = 512L << 20;

    private readonly ServerConfig _config;
    private readonly IReadOnlyDictionary<string, LanguageModel> _models;
    private readonly RequestParser _parser;
    private readonly ILogger<RedisJobs> _logger;
    private readonly ConnectionMultiplexer _redis;
    private readonly string _address;
    // Unique to this process: a restarted replica is a new consumer, and the jobs its predecessor held are taken over.
    private readonly string _consumer = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
    private readonly string _statusChannel;
    private readonly string _submittedChannel;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _statusWaiters = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly HashSet<string> _busyModels = new(StringComparer.Ordinal);
    private readonly HashSet<string> _groupsReady = new(StringComparer.Ordinal);
    private TaskCompletionSource _submitted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextModel;

    public RedisJobs(ServerConfig config, IReadOnlyDictionary<string, LanguageModel> models, RequestParser parser, ILogger<RedisJobs> logger)
    {
        _config = config;
        _models = models;
        _parser = parser;
        _logger = logger;
        var endpoint = config.RedisEndpoint!;
        _address = endpoint.Split(',')[0];
        var options = ConfigurationOptions.Parse(endpoint);
        // Start whether or not Redis is up, and keep reconnecting: requests get 503 meanwhile.
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.SyncTimeout = options.AsyncTimeout = 10_000;
        options.ClientName = "nnsight-replica";
        // A command while Redis is out of reach fails at once (503, and the client tries again) rather than waiting in a backlog.
        options.BacklogPolicy = BacklogPolicy.FailFast;
        _redis = ConnectionMultiplexer.Connect(options);
        _statusChannel = $"{config.QueueName}:status";
        _submittedChannel = $"{config.QueueName}:submitted";
    }

    public string ResultsDescription => $"Redis at {_address} (queue {_config.QueueName}, replica {_consumer})";

    private IDatabase Db => _redis.GetDatabase();

    public async Task<Submission> SubmitAsync(string id, string owner, PreparedJob work, byte[] request, CancellationToken token)
    {
        // The replica that runs the job parses the request again.
        work.Release();
        await Available(async () =>
        {
            await EnsureGroup(work.ModelId);
            return true;
        });
        var answer = (RedisResult[])(await Available(() => Db.ScriptEvaluateAsync(RedisScripts.Submit,
            [Stream(work.ModelId), Hash(id), Events(id)],
            [Group, _config.Limits.QueueLength, id, owner, work.ModelId, DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture), request,
             Event(new RemoteStatus(id, RemoteJobStates.Received)), _submittedChannel])))!;
        var position = (long)answer[0];
        if (position == RedisScripts.JobExists)
        {
            return new Submission(new RemoteStatus(id, (string)answer[1]!, answer[2].IsNull ? null : (int)answer[2], answer[3].IsNull ? null : (string?)answer[3]), Repeated: true);
        }
        if (position < 0)
        {
            throw new QueueFullException($"The queue is full ({_config.Limits.QueueLength} jobs); try again later.");
        }
        return new Submission(new RemoteStatus(id, RemoteJobStates.Queued, (int)position), Repeated: false);
    }

    public async Task<JobView?> FindAsync(string id, CancellationToken token)
    {
        if (!JobId().IsMatch(id))
        {
            return null;
        }
        var fields = await Available(() => Db.HashGetAsync(Hash(id), ["owner", "state", "position", "message"]));
        if (fields[0].IsNull || fields[1].IsNull)
        {
            return null;
        }
        int? position = fields[2].IsNull ? null : (int)fields[2];
        return new JobView((string)fields[0]!, new RemoteStatus(id, (string)fields[1]!, position, fields[3].IsNull ? null : (string?)fields[3]));
    }

    public async IAsyncEnumerable<RemoteStatus> FollowAsync(string id, [EnumeratorCancellation] CancellationToken token)
    {
        if (!JobId().IsMatch(id))
        {
            yield break;
        }
        long sent = 0;
        while (!token.IsCancellationRequested)
        {
            // Registered before reading, so a change between the read and the wait is not missed.
            var changed = _statusWaiters.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            var events = await Available(() => Db.ListRangeAsync(Events(id), sent, -1));
            foreach (var value in events)
            {
                sent++;
                var status = JsonSerializer.Deserialize<RemoteStatus>((string)value!, RemoteProtocol.Json)!;
                yield return status;
                if (RemoteJobStates.IsFinal(status.Status))
                {
                    yield break;
                }
            }
            // Pub/sub may drop a message while a connection is re-established, hence the timeout.
            await changed.WaitAsync(TimeSpan.FromSeconds(2), token).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    public async Task<Stream?> OpenResultAsync(string id, CancellationToken token)
    {
        var bytes = (byte[]?)await Available(() => Db.StringGetAsync(Result(id)));
        return bytes is null ? null : new MemoryStream(bytes, writable: false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var subscriber = _redis.GetSubscriber();
                await subscriber.SubscribeAsync(RedisChannel.Literal(_statusChannel), (_, message) =>
                {
                    if (_statusWaiters.TryRemove((string)message!, out var waiter))
                    {
                        waiter.TrySetResult();
                    }
                });
                await subscriber.SubscribeAsync(RedisChannel.Literal(_submittedChannel), (_, _) => WakeWorkers());
                break;
            }
            catch (Exception error) when (error is RedisException or RedisTimeoutException)
            {
                if (failures++ == 0)
                {
                    _logger.LogWarning("Redis at {Address} cannot be reached ({Reason}); waiting for it", _address, Reason(error));
                }
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, _config.Limits.ConcurrentJobs).Select(_ => Task.Run(() => Work(stoppingToken), stoppingToken)));
    }

    public override void Dispose()
    {
        base.Dispose();
        _redis.Dispose();
    }

    /// <summary>One worker: takes a job for an idle model of this replica, runs it, and starts over; waits while there is none.</summary>
    private async Task Work(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            Task submitted;
            lock (_gate)
            {
                submitted = _submitted.Task;
            }
            try
            {
                if (!await TakeAndRun(stoppingToken))
                {
                    // Nothing to take: wait for a submission, or look again for jobs of silent replicas.
                    var poll = TimeSpan.FromSeconds(Math.Min(1, _config.Limits.ClaimIdleSeconds / 2));
                    await submitted.WaitAsync(poll, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                }
                failures = 0;
            }
            catch (Exception error) when (error is RedisException or RedisTimeoutException)
            {
                // Redis is down or restarting (LOADING): wait and try again; a lost group is created again.
                if (failures++ == 0)
                {
                    _logger.LogWarning("Redis at {Address} cannot be reached ({Reason}); waiting for it", _address, Reason(error));
                }
                lock (_gate)
                {
                    _groupsReady.Clear();
                }
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 << Math.Min(failures, 6))), stoppingToken)
                    .ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Tries each idle model's stream once, in turn; runs the first job found. False when none was found.</summary>
    private async Task<bool> TakeAndRun(CancellationToken stoppingToken)
    {
        var models = _models.Keys.ToList();
        int first;
        lock (_gate)
        {
            first = _nextModel++;
        }
        for (var i = 0; i < models.Count && !stoppingToken.IsCancellationRequested; i++)
        {
            var model = models[(first + i) % models.Count];
            lock (_gate)
            {
                if (!_busyModels.Add(model))
                {
                    continue;
                }
            }
            try
            {
                await EnsureGroup(model);
                var taken = await Db.ScriptEvaluateAsync(RedisScripts.Take, [Stream(model)],
                    [Group, _consumer, (long)(_config.Limits.ClaimIdleSeconds * 1000)]);
                if (taken.IsNull)
                {
                    continue;
                }
                var entry = (RedisResult[])taken!;
                await Run(model, (string)entry[0]!, (string)entry[1]!, (byte[])entry[2]!, (int)entry[3], stoppingToken);
                return true;
            }
            finally
            {
                lock (_gate)
                {
                    _busyModels.Remove(model);
                }
            }
        }
        return false;
    }

    /// <summary>Runs the job of stream entry <paramref name="entry"/> and records how it ended.</summary>
    private async Task Run(string model, string entry, string id, byte[] request, int deliveries, CancellationToken stoppingToken)
    {
        if (deliveries > _config.Limits.MaxDeliveries)
        {
            await Finish(model, entry, id, RemoteJobStates.Error, null, stoppingToken,
                $"The job was delivered {deliveries} times and no replica finished it (each stopped while running it); it is not run again (LIMITS.MAX_DELIVERIES is {_config.Limits.MaxDeliveries}).");
            return;
        }
        PreparedJob work;
        try
        {
            work = _parser.Parse(request);
        }
        catch (RequestRejectedException error)
        {
            await Finish(model, entry, id, RemoteJobStates.Error, null, stoppingToken, $"The job cannot run on this replica: {error.Message}");
            return;
        }
        try
        {
            var started = (long)await Db.ScriptEvaluateAsync(RedisScripts.Start, [Hash(id), Events(id)],
                [_consumer, deliveries, Event(new RemoteStatus(id, RemoteJobStates.Running)),
                 Event(new RemoteStatus(id, RemoteJobStates.Log, Message: $"{JobExecution.Describe(work)} (replica {_consumer}, delivery {deliveries})")),
                 _statusChannel, id]);
            if (started == 0)
            {
                // Already ended (its finish was recorded, the acknowledgement lost): only the entry remains.
                await Finish(model, entry, id, RemoteJobStates.Error, null, stoppingToken, "");
                return;
            }
            using var abandon = new CancellationTokenSource();
            using var heartbeat = Heartbeat(model, entry, abandon);
            byte[]? result = null;
            string? error;
            try
            {
                error = await Task.Factory.StartNew(() => JobExecution.Run(work, _config.Limits, traces => result = ResultStore.Serialize(id, traces), _logger, id, abandon.Token),
                    CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }
            catch (OperationCanceledException) when (abandon.IsCancellationRequested)
            {
                _logger.LogWarning("Job {Job}: another replica took it over; this replica stops running it", id);
                return;
            }
            if (error is null && result!.LongLength >= MaxResultBytes)
            {
                (error, result) = ($"The result is {result.LongLength} bytes; a replica set keeps results in Redis, which holds at most {MaxResultBytes} bytes per value.", null);
            }
            await Finish(model, entry, id, error is null ? RemoteJobStates.Completed : RemoteJobStates.Error, result, stoppingToken, error);
        }
        finally
        {
            work.Release();
        }
    }

    /// <summary>
    /// Keeps the entry of a running job fresh every third of CLAIM_IDLE_SECONDS; cancels <paramref name="abandon"/> when
    /// another replica has taken the job over. A Redis outage is ignored here: the finish waits for Redis anyway.
    /// </summary>
    private Timer Heartbeat(string model, string entry, CancellationTokenSource abandon)
    {
        var period = TimeSpan.FromSeconds(_config.Limits.ClaimIdleSeconds / 3);
        return new Timer(_ =>
        {
            try
            {
                if ((long)Db.ScriptEvaluate(RedisScripts.Heartbeat, [Stream(model)], [Group, _consumer, entry]) == 0)
                {
                    abandon.Cancel();
                }
            }
            catch (Exception error) when (error is RedisException or RedisTimeoutException or ObjectDisposedException)
            {
                // Redis is out of reach, or the job has just ended.
            }
        }, null, period, period);
    }

    /// <summary>
    /// Records how the job ended (once, whichever replica is first) and acknowledges its entry, retrying while Redis is
    /// out of reach; the result stays in this replica's memory meanwhile.
    /// </summary>
    private async Task Finish(string model, string entry, string id, string state, byte[]? result, CancellationToken stoppingToken, string? message)
    {
        var ttl = (long)(_config.Limits.ResultTtlSeconds * 1000);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await Db.ScriptEvaluateAsync(RedisScripts.Finish, [Hash(id), Events(id), Result(id), Stream(model)],
                    [state, message ?? "", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture), Event(new RemoteStatus(id, state, Message: message)),
                     ttl, result ?? [], Group, entry, _statusChannel, id]);
                return;
            }
            catch (RedisServerException error) when (!IsTransient(error) && state == RemoteJobStates.Completed)
            {
                // Redis refused the result itself (its memory limit, say): the job fails with Redis's reason.
                (state, result, message) = (RemoteJobStates.Error, null, $"The result could not be stored in Redis: {error.Message}");
            }
            catch (Exception error) when (IsTransient(error) && !stoppingToken.IsCancellationRequested)
            {
                if (attempt == 0)
                {
                    _logger.LogWarning("Job {Job}: Redis at {Address} cannot be reached ({Reason}); keeping the result until it returns", id, _address, Reason(error));
                }
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 << Math.Min(attempt, 6))), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Creates the consumer group of <paramref name="model"/>'s stream (and the stream) unless this replica already has.</summary>
    private async Task EnsureGroup(string model)
    {
        lock (_gate)
        {
            if (_groupsReady.Contains(model))
            {
                return;
            }
        }
        try
        {
            await Db.StreamCreateConsumerGroupAsync(Stream(model), Group, StreamPosition.Beginning, createStream: true);
        }
        catch (RedisServerException error) when (error.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // Another replica created it.
        }
        lock (_gate)
        {
            _groupsReady.Add(model);
        }
    }

    private void WakeWorkers()
    {
        lock (_gate)
        {
            var submitted = _submitted;
            _submitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            submitted.TrySetResult();
        }
    }

    /// <summary>Runs a request's Redis call; an unreachable or restarting Redis becomes a 503 naming it.</summary>
    private async Task<T> Available<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception error) when (IsTransient(error))
        {
            lock (_gate)
            {
                _groupsReady.Clear();
            }
            throw new QueueUnavailableException(
                $"The job queue (Redis at {_address}) cannot be reached: {Reason(error)}. This replica recovers when Redis is back; try again shortly.", error);
        }
    }

    /// <summary>Whether <paramref name="error"/> says Redis is out of reach or not ready yet, rather than refusing the command.</summary>
    private static bool IsTransient(Exception error) => error is RedisConnectionException or RedisTimeoutException
        || error is RedisServerException && (error.Message.StartsWith("LOADING", StringComparison.Ordinal) || error.Message.StartsWith("NOGROUP", StringComparison.Ordinal)
            || error.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal) || error.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal));

    /// <summary>Why Redis cannot serve, in a few words: the socket's error, a timeout, or Redis's own word (LOADING, …).</summary>
    private static string Reason(Exception error) => error switch
    {
        RedisConnectionException { InnerException: { } inner } => inner.Message.TrimEnd('.'),
        RedisConnectionException connection => $"no connection ({connection.FailureType})",
        RedisTimeoutException => "it did not answer in time",
        _ => error.Message.Split('.', 2)[0],
    };

    private static string Event(RemoteStatus status) => JsonSerializer.Serialize(status, RemoteProtocol.Json);

    private RedisKey Stream(string model) => $"{_config.QueueName}:jobs:{model}";

    private RedisKey Hash(string id) => $"{_config.QueueName}:job:{id}";

    private RedisKey Events(string id) => $"{_config.QueueName}:job:{id}:events";

    private RedisKey Result(string id) => $"{_config.QueueName}:job:{id}:result";

    /// <summary>A job id: a Guid's 32 hex digits (nothing else reaches a Redis key).</summary>
    [GeneratedRegex("^[0-9a-f]{32}$", RegexOptions.CultureInvariant)]
    private static partial Regex JobId();
}
