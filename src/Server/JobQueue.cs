using System.Threading.Channels;
using NnSight.Intervention;

namespace NnSight.Server;

/// <summary>
/// The bounded queue of jobs and the workers that run them: CONCURRENT_JOBS at once, one at a time per model (hooks
/// live on the model's modules), each under JOB_TIMEOUT_SECONDS. A job that fails or times out ends in ERROR with the
/// model as it was (the runtime removes its hooks whatever happens). Each job runs on a thread of its own, so the
/// thread pool stays free to answer status requests while models compute.
/// </summary>
internal sealed class JobQueue(ServerConfig config, JobStore jobs, ResultStore results, ILogger<JobQueue> logger) : BackgroundService
{
    private readonly Channel<Job> _channel = Channel.CreateBounded<Job>(new BoundedChannelOptions(config.Limits.QueueLength)
    {
        FullMode = BoundedChannelFullMode.Wait,
    });

    private readonly LinkedList<Job> _waiting = [];
    private readonly Dictionary<string, SemaphoreSlim> _modelLocks = config.Models.Keys.ToDictionary(id => id, _ => new SemaphoreSlim(1, 1));

    /// <summary>Queues <paramref name="job"/>; false, with the job ended in ERROR, when the queue is full.</summary>
    public bool TryEnqueue(Job job)
    {
        int position;
        lock (_waiting)
        {
            if (!_channel.Writer.TryWrite(job))
            {
                job.Report(RemoteJobStates.Error, message: "The queue is full.");
                return false;
            }
            _waiting.AddLast(job);
            position = _waiting.Count;
        }
        job.Report(RemoteJobStates.Queued, position);
        return true;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, config.Limits.ConcurrentJobs).Select(_ => Task.Run(() => Work(stoppingToken), stoppingToken)));

    private async Task Work(CancellationToken stoppingToken)
    {
        await foreach (var job in _channel.Reader.ReadAllAsync(stoppingToken))
        {
            var gate = _modelLocks[job.ModelId];
            await gate.WaitAsync(stoppingToken);
            try
            {
                lock (_waiting)
                {
                    _waiting.Remove(job);
                }
                await Task.Factory.StartNew(() => Run(job), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }
            finally
            {
                gate.Release();
            }
            jobs.Expire();
        }
    }

    /// <summary>Runs <paramref name="job"/> on the calling thread and reports how it ended.</summary>
    internal void Run(Job job)
    {
        var work = job.Work;
        job.Report(RemoteJobStates.Running);
        job.Report(RemoteJobStates.Log, message:
            $"{work.ModelId}: {work.Invocations.Count} invocation(s), {work.Graph.Nodes.Count} node(s), " +
            (work.Generation is { } generation ? $"{generation.MaxNewTokens} new token(s)" : "one forward pass"));
        var timeout = TimeSpan.FromSeconds(config.Limits.JobTimeoutSeconds);
        using var deadline = new CancellationTokenSource(timeout);
        GraphResult? result = null;
        try
        {
            result = GraphRunner.Run(work.Model, work.Graph, work.Invocations, work.Generation, cancellation: deadline.Token);
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
            result?.Output.Dispose();
            foreach (var saved in result?.Saved.Values ?? [])
            {
                saved.Dispose();
            }
        }
    }
}
