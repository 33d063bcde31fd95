namespace NnSight.Server;

/// <summary>
/// The embedded queue of jobs and the workers that run them: CONCURRENT_JOBS at once, one at a time per model (hooks
/// live on the model's modules), each under JOB_TIMEOUT_SECONDS. A free worker takes the first waiting job whose model
/// is idle, so jobs waiting for a busy model never hold back a job for an idle one, and each model's jobs still run in
/// the order they came. A job that fails or times out ends in ERROR with the model as it was (the runtime removes its
/// hooks whatever happens). Each job runs on a thread of its own, so the thread pool stays free to answer status
/// requests while models compute. Every change of state is journaled before it is reported (<see cref="JobJournal"/>).
/// </summary>
internal sealed class JobQueue(ServerConfig config, JobStore jobs, ResultStore results, ILogger<JobQueue> logger) : BackgroundService
{
    private readonly object _gate = new();
    private readonly LinkedList<Job> _waiting = [];
    private readonly HashSet<string> _busyModels = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _reserved;

    /// <summary>
    /// Queues <paramref name="job"/>, journaling it first when it carries its request; false, with the job ended in
    /// ERROR, when the queue is full.
    /// </summary>
    public bool TryEnqueue(Job job)
    {
        lock (_gate)
        {
            if (_waiting.Count + _reserved >= config.Limits.QueueLength)
            {
                job.Report(RemoteJobStates.Error, message: "The queue is full.");
                return false;
            }
            _reserved++;
        }
        try
        {
            if (job.Request is { } request)
            {
                // On disk before any worker can start the job and before the client hears of it.
                jobs.Journal.Accept(job.Record(RemoteJobStates.Queued), request);
                job.Journaled = true;
                job.Request = null;
            }
        }
        catch
        {
            lock (_gate)
            {
                _reserved--;
            }
            job.Report(RemoteJobStates.Error, message: "The job could not be journaled.");
            throw;
        }
        lock (_gate)
        {
            _reserved--;
            Add(job, message: null);
        }
        return true;
    }

    /// <summary>Queues a job recovered from the journal after a restart, whatever the queue's length.</summary>
    public void EnqueueRecovered(Job job)
    {
        lock (_gate)
        {
            Add(job, $"The server restarted; the job runs again (started {job.Attempts} time(s) before, at most {config.Limits.MaxDeliveries}).");
        }
    }

    /// <summary>Appends <paramref name="job"/> (under the lock) and wakes the workers.</summary>
    private void Add(Job job, string? message)
    {
        _waiting.AddLast(job);
        // Reported before any worker can see the job, so QUEUED always precedes RUNNING.
        job.Report(RemoteJobStates.Queued, _waiting.Count);
        if (message is not null)
        {
            job.Report(RemoteJobStates.Log, message: message);
        }
        WakeWorkers();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, config.Limits.ConcurrentJobs).Select(_ => Task.Run(() => Work(stoppingToken), stoppingToken)));

    private async Task Work(CancellationToken stoppingToken)
    {
        // A stopping server finishes the jobs running but starts no more; those waiting stay in the journal.
        while (!stoppingToken.IsCancellationRequested)
        {
            Job? job;
            Task changed;
            lock (_gate)
            {
                job = TakeRunnable();
                changed = _changed.Task;
            }
            if (job is null)
            {
                await changed.WaitAsync(stoppingToken);
                continue;
            }
            try
            {
                await Task.Factory.StartNew(() => Run(job), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }
            finally
            {
                lock (_gate)
                {
                    _busyModels.Remove(job.ModelId);
                    WakeWorkers();
                }
            }
            jobs.Expire();
        }
    }

    /// <summary>Removes and returns the first waiting job whose model is idle, marking the model busy; null if none.</summary>
    private Job? TakeRunnable()
    {
        for (var node = _waiting.First; node is not null; node = node.Next)
        {
            if (_busyModels.Add(node.Value.ModelId))
            {
                _waiting.Remove(node);
                return node.Value;
            }
        }
        return null;
    }

    /// <summary>Wakes the idle workers (under the lock, so none misses a change between looking and waiting).</summary>
    private void WakeWorkers()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.SetResult();
    }

    /// <summary>Runs <paramref name="job"/> on the calling thread and reports how it ended, journaling each state first.</summary>
    internal void Run(Job job)
    {
        var work = job.Work;
        job.Attempts++;
        Journal(job, RemoteJobStates.Running);
        job.Report(RemoteJobStates.Running);
        job.Report(RemoteJobStates.Log, message: JobExecution.Describe(work));
        var error = JobExecution.Run(work, config.Limits, result => job.ResultPath = results.Write(job.Id, result), logger, job.Id);
        var finished = DateTimeOffset.UtcNow;
        Journal(job, error is null ? RemoteJobStates.Completed : RemoteJobStates.Error, error, finished);
        job.Report(error is null ? RemoteJobStates.Completed : RemoteJobStates.Error, message: error, finished: finished);
    }

    private void Journal(Job job, string state, string? message = null, DateTimeOffset? finished = null)
    {
        if (!job.Journaled)
        {
            return;
        }
        try
        {
            jobs.Journal.Write(job.Record(state, message, finished));
        }
        catch (IOException error)
        {
            // The journal keeps the job's earlier state, so after a restart it runs again; jobs are deterministic, so
            // the client gets the same result either way.
            logger.LogError(error, "Job {Job}: the journal could not record {State}", job.Id, state);
        }
    }
}
