using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using NnSight.Models;
using NnSight.TestSupport;
using TorchSharp;

namespace NnSight.Server.Tests;

/// <summary>The server's job code in process: what a job holds is released as soon as the job ends.</summary>
public sealed class JobLifetimeTests(TinyGpt2Fixture fixture) : IClassFixture<TinyGpt2Fixture>, IDisposable
{
    private const string ModelId = "tiny-gpt2";

    /// <summary>The tensor constants each request below carries: an added tensor, an index tensor, a tensor in a list.</summary>
    private const int ConstantsPerRequest = 3;

    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Jobs_that_complete_fail_or_are_refused_leave_no_tensor_alive()
    {
        var config = new ServerConfig
        {
            Models = { [ModelId] = RepositoryPaths.TinyGpt2 },
            ApiKeys = ["key"],
            ResponsePath = _folder.FullPath,
            Limits = new ServerLimits { QueueLength = 1 },
        };
        var parser = new RequestParser(config, new Dictionary<string, LanguageModel> { [ModelId] = fixture.Model });
        var results = new ResultStore(config);
        var jobs = new JobStore(results, config);
        using var queue = new JobQueue(config, jobs, results, NullLogger<JobQueue>.Instance);
        var completing = Request(fixture.Model, selectedToken: 0, module: "transformer.h.0");
        var failing = Request(fixture.Model, selectedToken: 20, module: "transformer.h.0");
        var refused = Request(fixture.Model, selectedToken: 0, module: "transformer.h.99");
        // The workers never start: this job fills the queue for good, so later ones are refused after parsing.
        Assert.True(queue.TryEnqueue(jobs.Add(Guid.NewGuid().ToString("N"), "key", Parse(parser, completing)).Job));
        queue.Run(jobs.Add(Guid.NewGuid().ToString("N"), "key", Parse(parser, completing)).Job);
        // Every tensor of a job is created and disposed on this thread, so this thread's count sees all of them.
        var statistics = DisposeScopeManager.Statistics;
        var before = statistics.ThreadTotalLiveCount;

        var parsed = jobs.Add(Guid.NewGuid().ToString("N"), "key", Parse(parser, completing)).Job;
        var whileQueued = statistics.ThreadTotalLiveCount;
        queue.Run(parsed);
        var ends = new List<string> { parsed.Current.Status };
        for (var i = 1; i < 50; i++)
        {
            switch (i % 4)
            {
                case 0 or 1:
                    var job = jobs.Add(Guid.NewGuid().ToString("N"), "key", Parse(parser, i % 4 == 0 ? completing : failing)).Job;
                    queue.Run(job);
                    ends.Add(job.Current.Status);
                    break;
                case 2:
                    var full = jobs.Add(Guid.NewGuid().ToString("N"), "key", Parse(parser, completing)).Job;
                    Assert.False(queue.TryEnqueue(full));
                    ends.Add(full.Current.Status);
                    break;
                default:
                    var error = Assert.Throws<RequestRejectedException>(() => Parse(parser, refused));
                    Assert.Equal(400, error.StatusCode);
                    break;
            }
        }

        Assert.Equal(before + ConstantsPerRequest, whileQueued);
        Assert.Equal(before, statistics.ThreadTotalLiveCount);
        Assert.Equal(13, ends.Count(status => status == RemoteJobStates.Completed));
        Assert.Equal(25, ends.Count(status => status == RemoteJobStates.Error));
    }

    private static PreparedJob Parse(RequestParser parser, string body)
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(body));
        return parser.ParseAsync(stream, CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>
    /// The valid request plus nodes with tensor constants: <c>h[-1].output[0] + zeros</c>, <c>.index([tensor])</c>,
    /// <c>cat([value, zeros])</c>, and <c>Token[^selectedToken]</c> of <paramref name="module"/>'s output.
    /// </summary>
    private static string Request(LanguageModel model, int selectedToken, string module)
    {
        var request = ServerClient.ValidRequest(model);
        var nodes = ServerClient.FirstTrace(request)["graph"]!["nodes"]!.AsArray();
        JsonObject Tensor(string dtype, long[] shape, int bytes) => new()
        {
            ["tensor"] = new JsonObject { ["dtype"] = dtype, ["shape"] = new JsonArray([.. shape.Select(size => JsonValue.Create(size))]), ["data"] = Convert.ToBase64String(new byte[bytes]) },
        };
        void Add(string op, params JsonNode[] args) => nodes.Add(new JsonObject { ["id"] = nodes.Count, ["op"] = op, ["args"] = new JsonArray(args), ["saved"] = true });
        Add("add", new JsonObject { ["node"] = 1 }, Tensor("Float32", [64], 64 * 4));
        Add("index", new JsonObject { ["node"] = 1 }, new JsonObject
        {
            ["index"] = new JsonArray(new JsonObject { ["kind"] = "tensor", ["tensor"] = Tensor("Int64", [1], 8)["tensor"]!.DeepClone() }),
        });
        Add("cat", new JsonObject { ["list"] = new JsonArray(new JsonObject { ["node"] = 1 }, Tensor("Float32", [1, 1, 64], 64 * 4)) }, new JsonObject { ["int"] = 1 });
        nodes.Add(new JsonObject
        {
            ["id"] = nodes.Count, ["op"] = "output", ["args"] = new JsonArray(),
            ["access"] = new JsonObject { ["path"] = module, ["kind"] = "output", ["invocation"] = 0, ["call"] = 0 },
        });
        Add("getitem", new JsonObject { ["node"] = nodes.Count - 1 }, new JsonObject { ["int"] = 0 });
        Add("token", new JsonObject { ["node"] = nodes.Count - 1 },
            new JsonObject { ["token"] = new JsonObject { ["index"] = new JsonObject { ["value"] = selectedToken, ["fromEnd"] = selectedToken > 0 } } },
            new JsonObject { ["int"] = 0 });
        return request.ToJsonString();
    }
}
