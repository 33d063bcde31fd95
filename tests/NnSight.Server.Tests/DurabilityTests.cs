using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NnSight.Models;
using NnSight.Serialization;
using NnSight.TestSupport;
using static TorchSharp.torch;

namespace NnSight.Server.Tests;

/// <summary>
/// The single server's job journal: a server killed with jobs queued and running runs them all again after a restart,
/// with the results an undisturbed run gives; finished results survive a restart; a repeated submission gets the job it
/// repeats; keys never reach the disk.
/// </summary>
public sealed class DurabilityTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private readonly LanguageModel _model = fixture.Model;

    [Fact]
    public async Task A_server_killed_mid_job_with_ten_jobs_queued_runs_them_all_after_a_restart_with_the_results_of_an_undisturbed_run()
    {
        using var server = ServerProcess.WithLimits(new Dictionary<string, string> { ["CONCURRENT_JOBS"] = "1" });
        using var client = new ServerClient(server);
        // The first job runs while the kill comes; the other nine wait behind it (one job at a time per model).
        string[] bodies =
        [
            ServerClient.GenerationRequest(_model, rows: 8, steps: 30).ToJsonString(),
            .. Enumerable.Range(1, 9).Select(ForwardSaving),
        ];
        var jobs = bodies.Select(body => client.SubmitJob(body)).ToList();
        client.WaitFor(jobs[0], RemoteJobStates.Running);
        // A client waiting for its result through the runtime, across the restart.
        TensorProxy hidden;
        var tracer = _model.Trace(server.Settings() with { Blocking = false, RequestTimeout = TimeSpan.FromMinutes(2) });
        using (tracer)
        using (tracer.Invoke("The Eiffel Tower is in the city of"))
        {
            hidden = _model.Envoy("transformer.h")[^1].Output[0].Save();
        }
        var waiting = Task.Run(tracer.Job!.Wait);

        server.Kill();
        foreach (var file in Directory.EnumerateFiles(server.ResponsePath, "*.safetensors"))
        {
            using var complete = SafetensorsFile.Open(file);
        }
        server.Restart();

        Assert.All(jobs, job => Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(job).Status));
        Assert.Contains("The server restarted; the job runs again (started 1 time(s) before, at most 3).", client.Events(jobs[0]), StringComparison.Ordinal);
        await waiting.WaitAsync(TimeSpan.FromMinutes(2));
        TensorAssert.Close(Local(), hidden.Value, ServerProcess.Rtol, ServerProcess.Atol, "the waiting client's value");
        var undisturbed = bodies.Select(body => client.SubmitJob(body)).ToList();
        foreach (var (recovered, again) in jobs.Zip(undisturbed))
        {
            Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(again).Status);
            AssertEqual(client.Result(again), client.Result(recovered));
        }
    }

    [Fact]
    public void A_finished_result_survives_a_restart_and_the_journal_holds_no_key()
    {
        using var server = ServerProcess.WithHashedKeys();
        using var client = new ServerClient(server);
        var job = client.SubmitJob(ServerClient.ValidRequest(_model).ToJsonString());
        Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(job).Status);
        var before = client.Result(job);

        server.Kill();
        server.Restart();

        Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(job).Status);
        AssertEqual(before, client.Result(job));
        using (var other = client.Get($"v1/jobs/{job}/result", ServerProcess.OtherApiKey))
        {
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        }
        Assert.True(File.Exists(Path.Combine(server.ResponsePath, job + ".job")));
        var record = File.ReadAllText(Path.Combine(server.ResponsePath, job + ".job"));
        Assert.Contains(ApiKeyHashes.OwnerOf(ServerProcess.ApiKey), record, StringComparison.Ordinal);
        foreach (var file in Directory.EnumerateFiles(server.Folder, "*", SearchOption.AllDirectories))
        {
            var bytes = File.ReadAllBytes(file);
            foreach (var key in new[] { ServerProcess.ApiKey, ServerProcess.OtherApiKey })
            {
                Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(key)) < 0, $"{Path.GetFileName(file)} holds the key {key}");
            }
        }
    }

    [Fact]
    public void A_repeated_submission_gets_the_same_job_before_and_after_a_restart_and_runs_once()
    {
        using var server = ServerProcess.WithHashedKeys();
        using var client = new ServerClient(server);
        var request = ServerClient.ValidRequest(_model).ToJsonString();

        var (firstStatus, job) = client.SubmitOnce(request, "attempt-1");
        var (repeatStatus, repeated) = client.SubmitOnce(request, "attempt-1");
        var (_, otherOwner) = client.SubmitOnce(request, "attempt-1", ServerProcess.OtherApiKey);
        var (_, otherRequest) = client.SubmitOnce(ServerClient.ValidRequest(_model, new GenerationOptions { MaxNewTokens = 1 }).ToJsonString(), "attempt-1");

        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.OK), (firstStatus, repeatStatus));
        Assert.Equal(job, repeated);
        Assert.Equal(3, new[] { job, otherOwner, otherRequest }.Distinct().Count());
        Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(job).Status);
        Assert.Equal(1, Regex.Count(client.Events(job), "\"RUNNING\""));

        server.Kill();
        server.Restart();

        Assert.Equal((HttpStatusCode.OK, job), client.SubmitOnce(request, "attempt-1"));
        Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(job).Status);
        var (status, error) = ServerClient.ErrorOf(client.Submit(request, idempotencyKey: "two words"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("The Idempotency-Key header must be one value of 1 to 128 letters, digits, '-', '_', '.' or ':'.", error);
    }

    [Fact]
    public void A_job_whose_server_stopped_during_each_of_its_max_deliveries_ends_in_error_instead_of_running_again()
    {
        using var server = ServerProcess.WithLimits(new Dictionary<string, string> { ["MAX_DELIVERIES"] = "1" });
        using var client = new ServerClient(server);
        var job = client.SubmitJob(ServerClient.GenerationRequest(_model, rows: 8, steps: 30).ToJsonString());
        client.WaitFor(job, RemoteJobStates.Running);

        server.Kill();
        server.Restart();
        var status = client.WaitFinal(job);

        Assert.Equal(RemoteJobStates.Error, status.Status);
        Assert.Equal("The job was started 1 time(s) and each time the server stopped before it ended; it is not run again (LIMITS.MAX_DELIVERIES).", status.Message);
        Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(client.SubmitJob(ServerClient.ValidRequest(_model).ToJsonString())).Status);
    }

    [Fact]
    public void A_sampling_trace_without_a_seed_gets_one_in_the_request_the_server_keeps()
    {
        var config = new ServerConfig { Models = { ["tiny-gpt2"] = RepositoryPaths.TinyGpt2 }, ApiKeys = ["key"] };
        var parser = new RequestParser(config, new Dictionary<string, LanguageModel> { ["tiny-gpt2"] = _model });
        var greedy = ServerClient.ValidRequest(_model, new GenerationOptions { MaxNewTokens = 2 });
        var sampling = ServerClient.ValidRequest(_model, new GenerationOptions { MaxNewTokens = 2, DoSample = true });
        var first = ServerClient.FirstTrace(sampling).DeepClone();
        sampling["traces"]!.AsArray().Add(first);
        var body = Encoding.UTF8.GetBytes(sampling.ToJsonString());
        var greedyBody = Encoding.UTF8.GetBytes(greedy.ToJsonString());

        var (work, kept) = SamplingSeeds.Fix(parser.Parse(body), body);
        var (greedyWork, greedyKept) = SamplingSeeds.Fix(parser.Parse(greedyBody), greedyBody);
        var again = parser.Parse(kept);

        var seed = work.Traces[0].Generation!.Seed;
        Assert.NotNull(seed);
        Assert.Equal([seed, seed], work.Traces.Select(trace => trace.Generation!.Seed));
        Assert.Equal([seed, seed], again.Traces.Select(trace => trace.Generation!.Seed));
        Assert.Same(greedyBody, greedyKept);
        Assert.Null(greedyWork.Traces[0].Generation!.Seed);
        Assert.Equal(seed, (ulong)JsonNode.Parse(kept)!["traces"]![1]!["generation"]!["seed"]!);
        foreach (var trace in work.Traces.Concat(again.Traces).Concat(greedyWork.Traces))
        {
            trace.Graph.Dispose();
        }
    }

    /// <summary>One forward pass saving block <paramref name="index"/> % 4's output and the logits: a job of its own.</summary>
    private string ForwardSaving(int index)
    {
        var request = ServerClient.ValidRequest(_model);
        ServerClient.FirstTrace(request)["graph"]!["nodes"]![0]!["access"]!["path"] = $"transformer.h.{index % 4}";
        return request.ToJsonString();
    }

    private Tensor Local()
    {
        TensorProxy hidden;
        using (var tracer = _model.Trace())
        using (tracer.Invoke("The Eiffel Tower is in the city of"))
        {
            hidden = _model.Envoy("transformer.h")[^1].Output[0].Save();
        }
        return hidden.Value;
    }

    /// <summary>The same tensors under the same names, bit for bit: one server run against another of the same job.</summary>
    private static void AssertEqual(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, tensor) in expected)
        {
            Assert.Equal(tensor.shape, actual[name].shape);
            Assert.True(tensor.eq(actual[name]).all().item<bool>(), $"{name} differs");
        }
    }
}
