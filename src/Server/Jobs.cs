using System.Collections.Concurrent;
using NnSight.Intervention;
using NnSight.Models;

namespace NnSight.Server;

/// <summary>A validated request, ready to run.</summary>
/// <param name="ModelId">The served model's id.</param>
/// <param name="Model">The model.</param>
/// <param name="Traces">The deserialized, validated traces (one, or a session's), in order.</param>
internal sealed record PreparedJob(string ModelId, LanguageModel Model, IReadOnlyList<SessionTrace> Traces)
{
    /// <summary>Disposes the traces' graphs and their tensor constants.</summary>
    public void Release()
    {
        foreach (var trace in Traces)
        {
            trace.Graph.Dispose();
        }
    }
}

/// <summary>
/// One job of the embedded queue: its work, the owner (the hash of the key that submitted it), and its status history,
/// which status streams replay and follow. The work (and its graph's tensor constants) is released when the job ends,
/// while the status and result stay until they expire.
/// </summary>
internal sealed class Job
{
    private readonly object _gate = new();
    private readonly List<RemoteStatus> _history = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PreparedJob? _work;

    /// <param name="id">The job id.</param>
    /// <param name="owner">The owner id (<see cref="ApiKeyHashes.OwnerOf"/>).</param>
    /// <param name="modelId">The served model the job runs on.</param>
    /// <param name="work">What to run; null for a job restored as finished.</param>
    /// <param name="request">The request as submitted, journaled when the job is queued; null for a job kept only in memory.</param>
    /// <param name="received">When the job was accepted.</param>
    public Job(string id, string owner, string modelId, PreparedJob? work, byte[]? request, DateTimeOffset received)
    {
        Id = id;
        Owner = owner;
        ModelId = modelId;
        _work = work;
        Request = request;
        Received = received;
    }

    public string Id { get; }

    /// <summary>The SHA-256 of the key that submitted the job, in hex.</summary>
    public string Owner { get; }

    /// <summary>The served model the job runs on.</summary>
    public string ModelId { get; }

    /// <summary>When the server accepted the job.</summary>
    public DateTimeOffset Received { get; }

    /// <summary>The request to journal when the job is queued (null once journaled, or for a job kept only in memory).</summary>
    public byte[]? Request { get; set; }

    /// <summary>Whether the journal holds the job.</summary>
    public bool Journaled { get; set; }

    /// <summary>How many times the job was started, this run of the server and earlier ones.</summary>
    public int Attempts { get; set; }

    /// <summary>What to run; only until the job ends.</summary>
    /// <exception cref="InvalidOperationException">The job has ended.</exception>
    public PreparedJob Work
    {
        get
        {
            lock (_gate)
            {
                return _work ?? throw new InvalidOperationException($"Job {Id} has ended; its work is released.");
            }
        }
    }

    /// <summary>When the job reached COMPLETED or ERROR.</summary>
    public DateTimeOffset? Finished { get; private set; }

    /// <summary>The result file once COMPLETED.</summary>
    public string? ResultPath { get; set; }

    /// <summary>The latest state (LOG messages are part of the stream, not states).</summary>
    public RemoteStatus Current
    {
        get
        {
            lock (_gate)
            {
                return _history.Last(status => status.Status != RemoteJobStates.Log);
            }
        }
    }

    /// <summary>The journal's record of the job in <paramref name="state"/>.</summary>
    public JournalRecord Record(string state, string? message = null, DateTimeOffset? finished = null) =>
        new(Id, Owner, ModelId, Received, state, Attempts, message, finished);

    /// <summary>Appends a status and wakes the status streams; a final status releases the work and disposes its graph.</summary>
    /// <param name="status">One of <see cref="RemoteJobStates"/>.</param>
    /// <param name="position">For QUEUED: the position.</param>
    /// <param name="message">For ERROR and LOG: the text.</param>
    /// <param name="finished">For a final status: when the job ended (now unless restored from the journal).</param>
    public void Report(string status, int? position = null, string? message = null, DateTimeOffset? finished = null)
    {
        TaskCompletionSource changed;
        PreparedJob? ended = null;
        lock (_gate)
        {
            _history.Add(new RemoteStatus(Id, status, position, message));
            if (RemoteJobStates.IsFinal(status))
            {
                Finished = finished ?? DateTimeOffset.UtcNow;
                (ended, _work) = (_work, null);
            }
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        ended?.Release();
        changed.TrySetResult();
    }

    /// <summary>The statuses so far and a task that completes at the next report.</summary>
    public (IReadOnlyList<RemoteStatus> History, Task Changed) Snapshot()
    {
        lock (_gate)
        {
            return ([.. _history], _changed.Task);
        }
    }
}

/// <summary>Jobs by id, kept until their result expires, and their journal.</summary>
internal sealed class JobStore(ResultStore results, ServerConfig config)
{
    private readonly ConcurrentDictionary<string, Job> _jobs = new(StringComparer.Ordinal);

    /// <summary>The journal under STATE_PATH (RESPONSE_PATH unless configured).</summary>
    public JobJournal Journal { get; } = new(config.JournalPath);

    /// <summary>
    /// A new job <paramref name="id"/> in RECEIVED; when <paramref name="request"/> is given, queueing journals it (see
    /// <see cref="JobQueue.TryEnqueue"/>) so that it survives a restart. When a job <paramref name="id"/> exists
    /// already, returns it instead (<c>Added</c> false) and releases <paramref name="work"/>.
    /// </summary>
    public (Job Job, bool Added) Add(string id, string owner, PreparedJob work, byte[]? request = null)
    {
        Expire();
        var job = new Job(id, owner, work.ModelId, work, request, DateTimeOffset.UtcNow);
        var added = _jobs.GetOrAdd(id, job);
        if (added != job)
        {
            work.Release();
            return (added, false);
        }
        job.Report(RemoteJobStates.Received);
        return (job, true);
    }

    /// <summary>Forgets <paramref name="job"/>, which was never queued.</summary>
    public void Remove(Job job) => _jobs.TryRemove(KeyValuePair.Create(job.Id, job));

    /// <summary>The job <paramref name="id"/>, unless it is unknown or has expired.</summary>
    public Job? Find(string id)
    {
        Expire();
        return _jobs.TryGetValue(id, out var job) ? job : null;
    }

    /// <summary>Forgets finished jobs older than the result lifetime and deletes their results and journal entries.</summary>
    public void Expire()
    {
        var limit = DateTimeOffset.UtcNow - TimeSpan.FromSeconds(config.Limits.ResultTtlSeconds);
        foreach (var job in _jobs.Values.Where(job => job.Finished < limit))
        {
            if (_jobs.TryRemove(job.Id, out _))
            {
                if (job.ResultPath is { } path)
                {
                    results.Delete(path);
                }
                if (job.Journaled)
                {
                    Journal.Forget(job.Id);
                }
            }
        }
    }

    /// <summary>
    /// Reads the journal at start: finished jobs are served again until they expire (their results kept, every other
    /// result in RESPONSE_PATH deleted); unfinished ones are parsed again and returned, oldest first, to run again —
    /// except those already started MAX_DELIVERIES times, which end in ERROR instead of looping.
    /// </summary>
    public IReadOnlyList<Job> Recover(Func<byte[], PreparedJob> parse, ILogger logger)
    {
        var pending = new List<Job>();
        var limit = DateTimeOffset.UtcNow - TimeSpan.FromSeconds(config.Limits.ResultTtlSeconds);
        foreach (var record in Journal.Recover((file, error) => logger.LogError(error, "The journal file {File} cannot be read; it is left as it is", file)))
        {
            if (record.Finished < limit)
            {
                Journal.Forget(record.Id);
                continue;
            }
            if (RemoteJobStates.IsFinal(record.State))
            {
                var finished = new Job(record.Id, record.Owner, record.Model, null, null, record.Received) { Journaled = true, Attempts = record.Attempts };
                if (record.State == RemoteJobStates.Completed)
                {
                    finished.ResultPath = results.PathOf(record.Id);
                }
                finished.Report(record.State, message: record.Message, finished: record.Finished);
                _jobs[record.Id] = finished;
                continue;
            }
            pending.Add(Restore(record, parse));
        }
        results.DeleteOrphans(_jobs.Values.Where(job => job.ResultPath is not null).Select(job => job.Id).ToHashSet(StringComparer.Ordinal));
        return [.. pending.Where(job => !RemoteJobStates.IsFinal(job.Current.Status))];
    }

    /// <summary>An unfinished job of the journal, ready to queue again, or ended in ERROR when it cannot run again.</summary>
    private Job Restore(JournalRecord record, Func<byte[], PreparedJob> parse)
    {
        string? failure = null;
        PreparedJob? work = null;
        if (record.Attempts >= config.Limits.MaxDeliveries)
        {
            failure = $"The job was started {record.Attempts} time(s) and each time the server stopped before it ended; it is not run again (LIMITS.MAX_DELIVERIES).";
        }
        else
        {
            try
            {
                work = parse(Journal.ReadRequest(record.Id));
            }
            catch (Exception error) when (error is RequestRejectedException or IOException)
            {
                failure = $"The job could not be run again after the server restarted: {error.Message}";
            }
        }
        var job = new Job(record.Id, record.Owner, record.Model, work, null, record.Received) { Journaled = true, Attempts = record.Attempts };
        _jobs[job.Id] = job;
        job.Report(RemoteJobStates.Received);
        if (failure is not null)
        {
            Journal.Write(job.Record(RemoteJobStates.Error, failure, DateTimeOffset.UtcNow));
            job.Report(RemoteJobStates.Error, message: failure);
        }
        return job;
    }
}
