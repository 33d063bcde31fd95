using System.Runtime.CompilerServices;

namespace NnSight.Server;

/// <summary>The single server's jobs: kept in memory by <see cref="JobStore"/>, run by <see cref="JobQueue"/>, journaled on disk.</summary>
internal sealed class EmbeddedJobs(JobStore jobs, JobQueue queue, ServerConfig config) : IJobBackend
{
    public string ResultsDescription => config.StatePath is { } state && state != config.ResponsePath
        ? $"{config.ResponsePath}, jobs journaled in {state}"
        : config.ResponsePath;

    /// <summary>Reads the journal and queues the jobs that did not finish; call once, before the server listens.</summary>
    public void Recover(RequestParser parser, ILogger logger)
    {
        foreach (var job in jobs.Recover(request => parser.Parse(request), logger))
        {
            queue.EnqueueRecovered(job);
        }
    }

    public Task<Submission> SubmitAsync(string id, string owner, PreparedJob work, byte[] request, CancellationToken token)
    {
        var (job, added) = jobs.Add(id, owner, work, request);
        if (added && !queue.TryEnqueue(job))
        {
            // Refused, so a repeat of the submission is a new one.
            jobs.Remove(job);
            throw new QueueFullException($"The queue is full ({config.Limits.QueueLength} jobs); try again later.");
        }
        return Task.FromResult(new Submission(job.Current, Repeated: !added));
    }

    public Task<JobView?> FindAsync(string id, CancellationToken token) =>
        Task.FromResult(jobs.Find(id) is { } job ? new JobView(job.Owner, job.Current) : null);

    public async IAsyncEnumerable<RemoteStatus> FollowAsync(string id, [EnumeratorCancellation] CancellationToken token)
    {
        if (jobs.Find(id) is not { } job)
        {
            yield break;
        }
        var sent = 0;
        while (!token.IsCancellationRequested)
        {
            var (history, changed) = job.Snapshot();
            for (; sent < history.Count; sent++)
            {
                yield return history[sent];
            }
            if (RemoteJobStates.IsFinal(history[^1].Status))
            {
                yield break;
            }
            await changed.WaitAsync(TimeSpan.FromSeconds(15), token).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    public Task<Stream?> OpenResultAsync(string id, CancellationToken token)
    {
        Stream? result = null;
        if (jobs.Find(id)?.ResultPath is { } path)
        {
            try
            {
                result = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
            }
            catch (FileNotFoundException)
            {
                // Expired between looking and opening.
            }
        }
        return Task.FromResult(result);
    }
}
