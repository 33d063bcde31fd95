using System.Net;
using NnSight.Models;
using NnSight.TestSupport;

namespace NnSight.Server.Tests;

/// <summary>Timeouts, queue limits, expiry, dropped status streams, non-blocking jobs and what a restart deletes.</summary>
public sealed class ResilienceTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private readonly LanguageModel _model = fixture.Model;

    [Fact]
    public void A_job_past_its_timeout_ends_in_error_and_leaves_the_model_as_it_was()
    {
        // Long enough for one forward pass on a 2-core machine shared with other work (libtorch's threads then wait for
        // each other a long time), far too short for 256 rows generating 117 tokens.
        using var server = ServerProcess.WithLimits(new Dictionary<string, string> { ["JOB_TIMEOUT_SECONDS"] = "5" });
        using var client = new ServerClient(server);

        var slow = client.WaitFinal(client.SubmitJob(ServerClient.GenerationRequest(_model, rows: 256, steps: 117).ToJsonString()));
        var expected = Saved(remote: null);
        var afterwards = Saved(server.Settings());

        Assert.Equal(RemoteJobStates.Error, slow.Status);
        Assert.Equal("The job ran past the server's limit of 5 s and was stopped.", slow.Message);
        TensorAssert.Close(expected, afterwards, ServerProcess.Rtol, ServerProcess.Atol, "a job after the timeout");
    }

    [Fact]
    public void A_full_queue_refuses_with_429_and_queued_jobs_report_their_position()
    {
        using var server = ServerProcess.WithLimits(new Dictionary<string, string> { ["CONCURRENT_JOBS"] = "1", ["QUEUE_LENGTH"] = "2" });
        using var client = new ServerClient(server);
        var slow = ServerClient.SlowRequest(_model).ToJsonString();

        var running = client.SubmitJob(slow);
        Assert.Equal(RemoteJobStates.Running, client.WaitFor(running, RemoteJobStates.Running).Status);
        using var second = client.Submit(slow);
        using var third = client.Submit(slow);
        var (status, error) = ServerClient.ErrorOf(client.Submit(slow));

        Assert.Contains("\"position\":1", ReadBody(second), StringComparison.Ordinal);
        Assert.Contains("\"position\":2", ReadBody(third), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("The queue is full (2 jobs); try again later.", error);
    }

    [Fact]
    public void A_result_expires_after_its_lifetime()
    {
        using var server = ServerProcess.WithLimits(new Dictionary<string, string> { ["RESULT_TTL_SECONDS"] = "1" });
        using var client = new ServerClient(server);
        var job = client.SubmitJob(ServerClient.ValidRequest(_model).ToJsonString());
        Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(job).Status);

        Thread.Sleep(1500);
        using var response = client.Get($"v1/jobs/{job}/result");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(Directory.EnumerateFiles(server.ResponsePath));
    }

    [Fact]
    public void A_non_blocking_job_is_polled_and_a_dropped_status_stream_does_not_lose_the_result()
    {
        using var server = new ServerProcess();
        using var client = new ServerClient(server);
        var expected = Saved(remote: null);

        TensorProxy hidden;
        var tracer = _model.Trace(server.Settings() with { Blocking = false });
        using (tracer)
        using (tracer.Invoke("The Eiffel Tower is in the city of"))
        {
            hidden = _model.Envoy("transformer.h")[^1].Output[0].Save();
        }
        Assert.Throws<ValueNotReadyException>(() => hidden.Value);
        using (var stream = client.Get($"v1/jobs/{tracer.Job!.Id}/events"))
        {
            Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        }
        Assert.Contains(tracer.Job.Status().Status, new[] { RemoteJobStates.Queued, RemoteJobStates.Running, RemoteJobStates.Completed });

        tracer.Job.Wait();

        TensorAssert.Close(expected, hidden.Value, ServerProcess.Rtol, ServerProcess.Atol, "after reconnecting");
    }

    [Fact]
    public void A_server_writing_results_next_to_its_config_removes_only_its_own_leftovers_at_start()
    {
        using var server = ServerProcess.WithResponsePath(".");
        using var client = new ServerClient(server);
        var job = client.SubmitJob(ServerClient.ValidRequest(_model).ToJsonString());
        Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(job).Status);
        var result = Path.Combine(server.ResponsePath, job + ".safetensors");
        Assert.True(File.Exists(result));

        server.Kill();
        // What SafetensorsWriter leaves behind when the process dies between writing and renaming.
        var temporary = Path.Combine(server.ResponsePath, $".{Guid.NewGuid():N}.safetensors.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temporary, "partial");
        string[] unrelated = ["notes.txt", "model.safetensors", ".cache.tmp", $"{Guid.NewGuid():N}.safetensors.bak", $"{Guid.NewGuid():N}"[1..] + ".safetensors"];
        foreach (var name in unrelated)
        {
            File.WriteAllText(Path.Combine(server.ResponsePath, name), name);
        }
        // A result no journaled job owns, as a server of an earlier version, before the journal, left it.
        var orphan = Path.Combine(server.ResponsePath, $"{Guid.NewGuid():N}.safetensors");
        File.Copy(result, orphan);
        // A journal write cut short, and a request whose job record was never written (so never acknowledged).
        var journalTemporary = Path.Combine(server.ResponsePath, $".{Guid.NewGuid():N}.job.{Guid.NewGuid():N}.tmp");
        var unacknowledged = Path.Combine(server.ResponsePath, $"{Guid.NewGuid():N}.request");
        File.WriteAllText(journalTemporary, "{");
        File.WriteAllText(unacknowledged, "{}");
        server.Restart();

        Assert.True(File.Exists(result));
        Assert.True(File.Exists(Path.Combine(server.ResponsePath, job + ".job")));
        Assert.False(File.Exists(orphan));
        Assert.False(File.Exists(temporary));
        Assert.False(File.Exists(journalTemporary));
        Assert.False(File.Exists(unacknowledged));
        Assert.True(File.Exists(server.ConfigPath));
        Assert.All(unrelated, name => Assert.Equal(name, File.ReadAllText(Path.Combine(server.ResponsePath, name))));
        Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(client.SubmitJob(ServerClient.ValidRequest(_model).ToJsonString())).Status);
    }

    private static string ReadBody(HttpResponseMessage response)
    {
        using var reader = new StreamReader(response.Content.ReadAsStream());
        return reader.ReadToEnd();
    }

    private TorchSharp.torch.Tensor Saved(RemoteSettings? remote)
    {
        TensorProxy hidden;
        var tracer = remote is null ? _model.Trace() : _model.Trace(remote);
        using (tracer)
        using (tracer.Invoke("The Eiffel Tower is in the city of"))
        {
            hidden = _model.Envoy("transformer.h")[^1].Output[0].Save();
        }
        return hidden.Value;
    }
}
