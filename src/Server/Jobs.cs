using System.Collections.Concurrent;
using NnSight.Intervention;
using NnSight.Models;

namespace NnSight.Server;

/// <summary>A validated request, ready to run.</summary>
/// <param name="ModelId">The served model's id.</param>
/// <param name="Model">The model.</param>
/// <param name="Traces">The deserialized, validated traces (one, or a session's), in order.</param>
internal sealed record PreparedJob(string ModelId, LanguageModel Model, IReadOnlyList<SessionTrace> Traces);

/// <summary>
/// One job: its work, the key that submitted it, and its status history, which status streams replay and follow. The
/// work (and its graph's tensor constants) is released when the job ends, while the status and result stay until they
/// expire.
/// </summary>
internal sealed class Job(string id, string apiKey, PreparedJob work)
{
    private readonly object _gate = new();
    private readonly List<RemoteStatus> _history = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PreparedJob? _work = work;

    public string Id { get; } = id;

    public string ApiKey { get; } = apiKey;

    /// <summary>The served model the job runs on.</summary>
    public string ModelId { get; } = work.ModelId;

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

    /// <summary>Appends a status and wakes the status streams; a final status releases the work and disposes its graph.</summary>
    public void Report(string status, int? position = null, string? message = null)
    {
        TaskCompletionSource changed;
        PreparedJob? ended = null;
        lock (_gate)
        {
            _history.Add(new RemoteStatus(Id, status, position, message));
            if (RemoteJobStates.IsFinal(status))
            {
                Finished = DateTimeOffset.UtcNow;
                (ended, _work) = (_work, null);
            }
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        foreach (var trace in ended?.Traces ?? [])
        {
            trace.Graph.Dispose();
        }
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

/// <summary>Jobs by id, kept until their result expires.</summary>
internal sealed class JobStore(ResultStore results, ServerConfig config)
{
    private readonly ConcurrentDictionary<string, Job> _jobs = new(StringComparer.Ordinal);

    public Job Add(string apiKey, PreparedJob work)
    {
        var job = new Job(Guid.NewGuid().ToString("N"), apiKey, work);
        _jobs[job.Id] = job;
        job.Report(RemoteJobStates.Received);
        return job;
    }

    /// <summary>The job <paramref name="id"/>, unless it is unknown or has expired.</summary>
    public Job? Find(string id)
    {
        Expire();
        return _jobs.TryGetValue(id, out var job) ? job : null;
    }

    /// <summary>Forgets finished jobs older than the result lifetime and deletes their results.</summary>
    public void Expire()
    {
        var limit = DateTimeOffset.UtcNow - TimeSpan.FromSeconds(config.Limits.ResultTtlSeconds);
        foreach (var job in _jobs.Values.Where(job => job.Finished < limit))
        {
            if (_jobs.TryRemove(job.Id, out _) && job.ResultPath is { } path)
            {
                results.Delete(path);
            }
        }
    }
}
