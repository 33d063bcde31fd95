using NnSight.Intervention;

namespace NnSight.Server;

/// <summary>
/// Runs one job's traces on its model, for the embedded queue and the Redis workers alike: under JOB_TIMEOUT_SECONDS,
/// with every failure turned into the message its ERROR status carries, and every result tensor disposed afterwards.
/// </summary>
internal static class JobExecution
{
    /// <summary>The LOG line a job reports when it starts: the model and each trace's size.</summary>
    public static string Describe(PreparedJob work) => $"{work.ModelId}: " + string.Join("; ", work.Traces.Select(trace =>
        $"{trace.Invocations.Count} invocation(s), {trace.Graph.Nodes.Count} node(s), " +
        (trace.Generation is { } generation ? $"{generation.MaxNewTokens} new token(s)" : "one forward pass")));

    /// <summary>
    /// Runs <paramref name="work"/> on the calling thread and hands its results to <paramref name="write"/>; returns
    /// null when the job completed, or why it failed.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="abandon"/> was cancelled: the job is no longer this
    /// process's to finish.</exception>
    public static string? Run(PreparedJob work, ServerLimits limits, Action<IReadOnlyList<GraphResult>> write, ILogger logger, string id,
        CancellationToken abandon = default)
    {
        var timeout = TimeSpan.FromSeconds(limits.JobTimeoutSeconds);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(abandon);
        deadline.CancelAfter(timeout);
        IReadOnlyList<GraphResult> result = [];
        try
        {
            result = SessionRunner.Run(work.Model, work.Traces, deadline.Token);
            write(result);
            return null;
        }
        catch (OperationCanceledException) when (abandon.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return $"The job ran past the server's limit of {timeout.TotalSeconds:0.###} s and was stopped.";
        }
        catch (Exception error) when (error is NnSightException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            return error.Message;
        }
        catch (Exception error)
        {
            logger.LogError(error, "Job {Job} failed unexpectedly", id);
            return $"The server failed to run the job: {error.Message}";
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
