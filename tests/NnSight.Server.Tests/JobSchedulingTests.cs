using Microsoft.Extensions.Logging.Abstractions;
using NnSight.Intervention;
using NnSight.Models;
using NnSight.TestSupport;

namespace NnSight.Server.Tests;

/// <summary>
/// The job queue in process, with jobs that wait on a gate the test opens, so the order of states is fixed whatever the
/// machine's speed.
/// </summary>
public sealed class JobSchedulingTests(TinyGpt2Fixture gpt2, TinyLlamaFixture llama)
    : IClassFixture<TinyGpt2Fixture>, IClassFixture<TinyLlamaFixture>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_job_for_an_idle_model_runs_while_earlier_jobs_wait_for_a_busy_model()
    {
        var config = new ServerConfig
        {
            Models = { ["tiny-gpt2"] = RepositoryPaths.TinyGpt2, ["tiny-llama"] = RepositoryPaths.TinyLlama },
            ApiKeys = ["key"],
            ResponsePath = _folder.FullPath,
            Limits = new ServerLimits { ConcurrentJobs = 2 },
        };
        var results = new ResultStore(config);
        var jobs = new JobStore(results, config);
        using var queue = new JobQueue(config, jobs, results, NullLogger<JobQueue>.Instance);
        using var gate = new ManualResetEventSlim();
        var first = jobs.Add(Guid.NewGuid().ToString("N"), "key", Gated("tiny-gpt2", gpt2.Model, gate)).Job;
        var second = jobs.Add(Guid.NewGuid().ToString("N"), "key", Gated("tiny-gpt2", gpt2.Model, gate)).Job;
        var other = jobs.Add(Guid.NewGuid().ToString("N"), "key", new PreparedJob("tiny-llama", llama.Plain, [new SessionTrace(new InterventionGraph(), [[new TokenRow([1, 2, 3])]], null)])).Job;
        Assert.True(queue.TryEnqueue(first) && queue.TryEnqueue(second) && queue.TryEnqueue(other));

        await queue.StartAsync(CancellationToken.None);
        try
        {
            Assert.Equal(RemoteJobStates.Completed, await Final(other));
            Assert.Equal(RemoteJobStates.Running, first.Current.Status);
            Assert.Equal(RemoteJobStates.Queued, second.Current.Status);

            gate.Set();
            Assert.Equal(RemoteJobStates.Completed, await Final(first));
            Assert.Equal(RemoteJobStates.Completed, await Final(second));
        }
        finally
        {
            gate.Set();
            await queue.StopAsync(CancellationToken.None);
        }
        Assert.Equal([1, 2, 3], new[] { first, second, other }.Select(job => job.Snapshot().History.First(status => status.Status == RemoteJobStates.Queued).Position));
    }

    /// <summary>A job on <paramref name="model"/> whose graph waits for <paramref name="gate"/> during the forward pass.</summary>
    private static PreparedJob Gated(string id, LanguageModel model, ManualResetEventSlim gate)
    {
        var graph = new InterventionGraph();
        graph.Add("output", [], new ModuleAccess("transformer.h.0", AccessKind.Output, 0, 0));
        graph.Add("getitem", [new NodeRef(0), 0L]);
        graph.Add("apply", [new NodeRef(1)], localFunction: hidden =>
        {
            gate.Wait(Patience);
            return hidden.clone();
        });
        return new PreparedJob(id, model, [new SessionTrace(graph, [[new TokenRow([464, 412, 733])]], null)]);
    }

    private static async Task<string> Final(Job job)
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            var (_, changed) = job.Snapshot();
            if (RemoteJobStates.IsFinal(job.Current.Status))
            {
                return job.Current.Status;
            }
            try
            {
                await changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Job {job.Id} ({job.ModelId}) is still {job.Current.Status} after {Patience}.");
            }
        }
    }
}
