namespace NnSight.Server;

/// <summary>
/// Where accepted jobs go and where their status and results are read: the embedded queue with its journal
/// (<see cref="EmbeddedJobs"/>), or Redis streams shared by a replica set (<see cref="RedisJobs"/>). The HTTP endpoints
/// know nothing else.
/// </summary>
internal interface IJobBackend
{
    /// <summary>Where results are kept, for the line the server prints at start.</summary>
    string ResultsDescription { get; }

    /// <summary>
    /// Accepts a validated job <paramref name="id"/> owned by <paramref name="owner"/> and returns its first status
    /// (QUEUED); when a job <paramref name="id"/> exists already (a repeated submission, see <see cref="JobIds"/>),
    /// queues nothing, disposes <paramref name="work"/> and returns that job's latest state.
    /// </summary>
    /// <exception cref="QueueFullException">The queue holds QUEUE_LENGTH jobs.</exception>
    /// <exception cref="QueueUnavailableException">Redis cannot be reached.</exception>
    Task<Submission> SubmitAsync(string id, string owner, PreparedJob work, byte[] request, CancellationToken token);

    /// <summary>The job <paramref name="id"/>'s owner and latest state, or null when unknown or expired.</summary>
    /// <exception cref="QueueUnavailableException">Redis cannot be reached.</exception>
    Task<JobView?> FindAsync(string id, CancellationToken token);

    /// <summary>Every status of job <paramref name="id"/> so far, then each new one, until a final one.</summary>
    /// <exception cref="QueueUnavailableException">Redis cannot be reached.</exception>
    IAsyncEnumerable<RemoteStatus> FollowAsync(string id, CancellationToken token);

    /// <summary>The result of a COMPLETED job as safetensors bytes, or null when it has expired.</summary>
    /// <exception cref="QueueUnavailableException">Redis cannot be reached.</exception>
    Task<Stream?> OpenResultAsync(string id, CancellationToken token);
}

/// <summary>The answer to a submission.</summary>
/// <param name="Status">The job's first status, or for a repeated submission its latest one.</param>
/// <param name="Repeated">Whether the job existed already (200 rather than 202).</param>
internal sealed record Submission(RemoteStatus Status, bool Repeated);

/// <summary>What the endpoints need of a job: its owner, to check the key, and its latest state.</summary>
/// <param name="Owner">The SHA-256 of the key that submitted it, in hex.</param>
/// <param name="Current">The latest state.</param>
internal sealed record JobView(string Owner, RemoteStatus Current);

/// <summary>The queue holds QUEUE_LENGTH jobs (429).</summary>
internal sealed class QueueFullException(string message) : NnSightException(message);

/// <summary>The replica set's Redis cannot be reached (503); the message names it.</summary>
internal sealed class QueueUnavailableException(string message, Exception? innerException = null) : NnSightException(message, innerException);
