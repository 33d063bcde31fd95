using NnSight.Intervention;

namespace NnSight.Server;

/// <summary>
/// The bounded queue of jobs and the workers that run them: CONCURRENT_JOBS at once, one at a time per model (hooks
/// live on the model's modules), each under JOB_TIMEOUT_SECONDS. A free worker takes the first waiting job whose model
/// is idle, so jobs waiting for a busy model never hold back a job for an idle one, and each model's jobs still run in
/// the order they came. A job that fails or times out ends in ERROR with the model as it was (the runtime removes its
/// hooks whatever happens). Each job runs on a thread of its own, so the thread pool stays free to answer status
/// requests while models compute.
/// </summary>
internal sealed class JobQueue(ServerConfig config, JobStore jobs, ResultStore results, ILogger<JobQueue> logger) : BackgroundService
{
    private readonly object _gate = new();
    private readonly LinkedList<Job> _waiting = [];
    private readonly HashSet<string> _busyModels = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Queues <paramref name="job"/>; false, with the job ended in ERROR, when the queue is full.</summary>
    public bool TryEnqueue(Job job)
    {
        lock (_gate)
        {
            if (_waiting.Count < config.Limits.QueueLength)
            {
                _waiting.AddLast(job);
                // Reported before any worker can see the job, so QUEUED always precedes RUNNING.
                job.Report(RemoteJobStates.Queued, _waiting.Count);
                WakeWorkers();
                return true;
            }
        }
        job.Report(RemoteJobStates.Error, message: "The queue is full.");
        return false;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, config.Limits.ConcurrentJobs).Select(_ => Task.Run(() => Work(stoppingToken), stoppingToken)));

    private async Task Work(CancellationToken stoppingToken)
    {
        // A stopping server finishes the jobs running but starts no more.
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

    /// <summary>Runs <paramref name="job"/> on the calling thread and reports how it ended.</summary>
    internal void Run(Job job)
    {
        var work = job.Work;
        job.Report(RemoteJobStates.Running);
        job.Report(RemoteJobStates.Log, message: $"{work.ModelId}: " + string.Join("; ", work.Traces.Select(trace =>
            $"{trace.Invocations.Count} invocation(s), {trace.Graph.Nodes.Count} node(s), " +
            (trace.Generation is { } generation ? $"{generation.MaxNewTokens} new token(s)" : "one forward pass"))));
        var timeout = TimeSpan.FromSeconds(config.Limits.JobTimeoutSeconds);
        using var deadline = new CancellationTokenSource(timeout);
        IReadOnlyList<GraphResult> result = [];
        try
        {
            result = SessionRunner.Run(work.Model, work.Traces, deadline.Token);
            job.ResultPath = results.Write(job.Id, result);
            job.Report(RemoteJobStates.Completed);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            job.Report(RemoteJobStates.Error, message: $"The job ran past the server's limit of {timeout.TotalSeconds:0.###} s and was stopped.");
        }
        catch (Exception error) when (error is NnSightException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            job.Report(RemoteJobStates.Error, message: error.Message);
        }
        catch (Exception error)
        {
            logger.LogError(error, "Job {Job} failed unexpectedly", job.Id);
            job.Report(RemoteJobStates.Error, message: $"The server failed to run the job: {error.Message}");
        }
        finally
        {
            foreach (var trace in result)
            {
                trace.Output?.Dispose();
                foreach (var saved in trace.Saved.Values)
                {
                    saved.Dispose();
                }
            }
        }
    }
}
