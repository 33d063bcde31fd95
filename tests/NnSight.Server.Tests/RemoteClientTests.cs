using System.Text;
using NnSight.Models;
using NnSight.Serialization;
using NnSight.TestSupport;

namespace NnSight.Server.Tests;

/// <summary>
/// The remote client against a scripted server: the server's base path, how long each request may take, and which
/// failures it tries again.
/// </summary>
public sealed class RemoteClientTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>
{
    private const string JobId = "0123456789abcdef0123456789abcdef";

    /// <summary>How long a test waits for a call that must end, far past every timeout the tests set.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(1);

    /// <summary>The request timeout the tests set: past it a stalled request fails, well within it a loopback answer comes.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);

    private readonly LanguageModel _model = fixture.Model;

    [Theory]
    [InlineData("nnsight")]
    [InlineData("nnsight/")]
    [InlineData("gateway/nnsight")]
    public void A_servers_base_path_is_kept(string basePath)
    {
        using var server = new FakeServer((method, path) => (method, path) == ("POST", "/" + basePath.TrimEnd('/') + "/v1/jobs")
            ? Status(202, RemoteJobStates.Received)
            : FakeAnswer.Json(404, """{"error": "no such path"}"""));

        var (tracer, _) = Record(new RemoteSettings(new Uri(server.Address, basePath)) { Blocking = false, Progress = null });
        tracer.Dispose();

        Assert.Equal(JobId, tracer.Job!.Id);
        Assert.Equal(["POST /" + basePath.TrimEnd('/') + "/v1/jobs"], server.Requests);
    }

    [Theory]
    [InlineData("submit", "POST v1/jobs")]
    [InlineData("status", "GET v1/jobs/" + JobId)]
    [InlineData("result", "GET v1/jobs/" + JobId + "/result")]
    public async Task A_request_the_server_never_completes_fails_after_the_request_timeout(string stalled, string request)
    {
        using var server = new FakeServer((method, path) => (method, path.Split('/').Last(), stalled) switch
        {
            ("POST", "jobs", "submit") => FakeAnswer.Never,
            ("POST", "jobs", _) => Status(202, RemoteJobStates.Received),
            ("GET", JobId, "status") => FakeAnswer.Never,
            ("GET", "events", _) => Events(RemoteJobStates.Completed),
            ("GET", "result", "result") => FakeAnswer.Stalled(200, 1000),
            _ => FakeAnswer.Json(404, """{"error": "unexpected"}"""),
        });
        var (tracer, _) = Record(new RemoteSettings(server.Address) { Blocking = false, Progress = null, RequestTimeout = RequestTimeout });

        var call = Task.Run(() => Assert.Throws<RemoteException>(() =>
        {
            tracer.Dispose();
            if (stalled == "status")
            {
                tracer.Job!.Status();
            }
            tracer.Job!.Wait();
        }));

        Assert.True(await Task.WhenAny(call, Task.Delay(Patience)) == call, $"the {stalled} request is still waiting after {Patience}");
        var (verb, target) = (request.Split(' ')[0], request.Split(' ')[1]);
        Assert.Equal($"{verb} {new Uri(server.Address, target)} got no complete answer within 2 s (RemoteSettings.RequestTimeout).", (await call).Message);
    }

    [Fact]
    public async Task The_status_stream_is_not_cut_by_the_request_timeout()
    {
        using var folder = new TemporaryFolder();
        var result = folder.File("result.safetensors");
        using var server = new FakeServer((method, path) => (method, path.Split('/').Last()) switch
        {
            ("POST", "jobs") => Status(202, RemoteJobStates.Received),
            ("GET", "events") => Events(RemoteJobStates.Completed, delay: 1.5 * RequestTimeout),
            ("GET", "result") => FakeAnswer.Complete(200, "application/octet-stream", File.ReadAllBytes(result)),
            _ => FakeAnswer.Json(404, """{"error": "unexpected"}"""),
        });
        var (tracer, saved) = Record(new RemoteSettings(server.Address) { Progress = null, RequestTimeout = RequestTimeout });
        var savedId = tracer.Graph.Nodes.Single(node => node.Saved).Id;
        using (var output = TorchSharp.torch.zeros(1, 10, 16))
        using (var value = TorchSharp.torch.ones(2))
        {
            SafetensorsWriter.Write(result, [new(RemoteProtocol.OutputTensor(0), output), new(RemoteProtocol.SavedTensor(0, savedId), value)]);
        }

        var run = Task.Run(tracer.Dispose);

        Assert.True(await Task.WhenAny(run, Task.Delay(Patience)) == run, "the job is still waiting");
        await run;
        Assert.Equal([1f, 1f], saved.Value.data<float>().ToArray());
    }

    [Fact]
    public async Task Submit_status_and_result_are_tried_again_while_the_server_answers_503()
    {
        using var folder = new TemporaryFolder();
        var result = folder.File("result.safetensors");
        var answers = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        using var server = new FakeServer((method, path) =>
        {
            var target = path.Split('/').Last();
            var count = answers.AddOrUpdate(target, 1, (_, seen) => seen + 1);
            return (method, target) switch
            {
                // Two refusals of each request first, as from a replica whose Redis is restarting.
                _ when count <= 2 => FakeAnswer.Json(503, """{"error": "The job queue (Redis at 127.0.0.1:1) cannot be reached."}"""),
                ("POST", "jobs") => Status(202, RemoteJobStates.Received),
                ("GET", JobId) => Status(200, RemoteJobStates.Running),
                ("GET", "events") => Events(RemoteJobStates.Completed),
                ("GET", "result") => FakeAnswer.Complete(200, "application/octet-stream", File.ReadAllBytes(result)),
                _ => FakeAnswer.Json(404, """{"error": "unexpected"}"""),
            };
        });
        var (tracer, saved) = Record(new RemoteSettings(server.Address) { Blocking = false, Progress = null, RequestTimeout = TimeSpan.FromSeconds(30) });
        using (var value = TorchSharp.torch.ones(2))
        {
            SafetensorsWriter.Write(result, [new(RemoteProtocol.SavedTensor(0, tracer.Graph.Nodes.Single(node => node.Saved).Id), value)]);
        }

        var run = Task.Run(() =>
        {
            tracer.Dispose();
            var status = tracer.Job!.Status();
            tracer.Job.Wait();
            return status;
        });

        Assert.True(await Task.WhenAny(run, Task.Delay(Patience)) == run, "the job is still waiting");
        Assert.Equal(RemoteJobStates.Running, (await run).Status);
        Assert.Equal([1f, 1f], saved.Value.data<float>().ToArray());
        Assert.Equal(3, answers["jobs"]);
        Assert.Equal(3, answers["result"]);
        // Status() itself, then once more each time the status stream is refused before it is followed.
        Assert.True(answers[JobId] >= 3, $"{answers[JobId]} status requests");
    }

    [Fact]
    public void Tries_end_at_the_request_timeout_naming_the_request_and_the_last_failure()
    {
        using var server = new FakeServer((method, path) => (method, path.Split('/').Last()) switch
        {
            ("POST", "jobs") => Status(202, RemoteJobStates.Received),
            _ => FakeAnswer.Json(503, """{"error": "Redis is restarting."}"""),
        });
        var (tracer, _) = Record(new RemoteSettings(server.Address) { Blocking = false, Progress = null, RequestTimeout = TimeSpan.FromSeconds(1) });
        tracer.Dispose();

        var error = Assert.Throws<RemoteException>(() => tracer.Job!.Status());

        Assert.Equal($"GET {new Uri(server.Address, "v1/jobs/" + JobId)} got no complete answer within 1 s (RemoteSettings.RequestTimeout); " +
            "the last attempt failed: The server answered 503 (ServiceUnavailable): Redis is restarting.", error.Message);
        Assert.Equal(503, error.StatusCode);
        Assert.True(server.Requests.Count(request => request.EndsWith(JobId, StringComparison.Ordinal)) >= 2, string.Join(", ", server.Requests));
    }

    [Fact]
    public void A_submission_whose_answer_was_lost_is_sent_again_with_the_same_idempotency_key()
    {
        var posts = 0;
        using var server = new FakeServer((method, path) => method == "POST" && Interlocked.Increment(ref posts) == 1
            ? FakeAnswer.Dropped
            : Status(202, RemoteJobStates.Queued));
        var (tracer, _) = Record(new RemoteSettings(server.Address) { Blocking = false, Progress = null, RequestTimeout = TimeSpan.FromSeconds(30) });

        tracer.Dispose();

        Assert.Equal(JobId, tracer.Job!.Id);
        Assert.Equal(["POST /v1/jobs", "POST /v1/jobs"], server.Requests);
        var keys = server.IdempotencyKeys.ToList();
        Assert.Matches("^[0-9a-f]{32}$", keys[0]);
        Assert.Equal(keys[0], keys[1]);
    }

    [Fact]
    public void A_submission_the_server_refused_is_not_sent_again()
    {
        using var server = new FakeServer((method, path) => FakeAnswer.Json(500, """{"error": "The server failed."}"""));
        var (tracer, _) = Record(new RemoteSettings(server.Address) { Blocking = false, Progress = null, RequestTimeout = TimeSpan.FromSeconds(30) });

        var error = Assert.Throws<RemoteException>(tracer.Dispose);

        Assert.Equal(500, error.StatusCode);
        Assert.Equal(["POST /v1/jobs"], server.Requests);
    }

    /// <summary>A recorded remote trace saving the logits; disposing it submits the job.</summary>
    private (Tracer Tracer, TensorProxy Saved) Record(RemoteSettings settings)
    {
        var tracer = _model.Trace(settings);
        using (tracer.Invoke("The Eiffel Tower is in the city of"))
        {
            return (tracer, _model.Envoy("lm_head").Output.Save());
        }
    }

    private static FakeAnswer Status(int code, string state) => FakeAnswer.Json(code, $$"""{"job": "{{JobId}}", "status": "{{state}}"}""");

    private static FakeAnswer Events(string state, TimeSpan delay = default) => FakeAnswer.Complete(200, "text/event-stream",
        Encoding.UTF8.GetBytes($$"""data: {"job": "{{JobId}}", "status": "{{state}}"}""" + "\n\n"), delay);
}
