using System.Net;
using System.Text.Json.Nodes;
using NnSight.Models;
using NnSight.TestSupport;

namespace NnSight.Server.Tests;

/// <summary>Authentication, versioning and hostile input: each refused with a 4xx and a clear message, and the server goes on.</summary>
public sealed class ProtocolTests(TinyGpt2Fixture fixture, ServerProcess server)
    : IClassFixture<TinyGpt2Fixture>, IClassFixture<ServerProcess>, IDisposable
{
    private readonly LanguageModel _model = fixture.Model;
    private readonly ServerClient _client = new(server);

    public void Dispose() => _client.Dispose();

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key")]
    public void Submitting_without_a_valid_key_is_401(string? key)
    {
        var (status, error) = ServerClient.ErrorOf(_client.Submit(Valid().ToJsonString(), key));

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("A valid API key is required", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key")]
    [InlineData(ServerProcess.OtherApiKey)]
    public void Status_events_and_result_need_the_key_that_submitted(string? key)
    {
        var job = _client.SubmitJob(Valid().ToJsonString());
        Assert.Equal(RemoteJobStates.Completed, _client.WaitFinal(job).Status);

        foreach (var path in new[] { $"v1/jobs/{job}", $"v1/jobs/{job}/events", $"v1/jobs/{job}/result" })
        {
            using var response = _client.Get(path, key);
            Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.NotFound, $"{path}: {response.StatusCode}");
            Assert.Equal(key == ServerProcess.OtherApiKey ? HttpStatusCode.NotFound : HttpStatusCode.Unauthorized, response.StatusCode);
        }
        using var owner = _client.Get($"v1/jobs/{job}/result");
        Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
    }

    [Fact]
    public void A_client_of_another_protocol_version_is_refused_naming_both()
    {
        var request = Valid();
        request["protocol"] = 7;

        var (status, error) = ServerClient.ErrorOf(_client.Submit(request.ToJsonString()));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("The client speaks protocol version 7, but this server speaks version 1; update the client or the server.", error);
    }

    public static TheoryData<string, HttpStatusCode, string> Hostile() => new()
    {
        { "invalid json", HttpStatusCode.BadRequest, "The request is not valid JSON" },
        { "unknown model", HttpStatusCode.NotFound, "Model \"gpt-5\" is not served here (served: tiny-gpt2, tiny-llama)" },
        { "unknown op", HttpStatusCode.BadRequest, "\"system\" is not an op of the registry" },
        { "local code", HttpStatusCode.BadRequest, "runs local code and is refused" },
        { "node cycle", HttpStatusCode.BadRequest, "nodes may only reference earlier nodes" },
        { "unknown module", HttpStatusCode.BadRequest, "names module \"transformer.h.99\", which the model does not have" },
        { "huge constant", HttpStatusCode.BadRequest, "tensor constants hold 2097152 bytes; this server accepts at most 1048576" },
        { "too many nodes", HttpStatusCode.BadRequest, "this server accepts at most 2000" },
        { "ill-typed argument", HttpStatusCode.BadRequest, "does not fit its operands' shapes" },
        { "token outside the vocabulary", HttpStatusCode.BadRequest, "Token id 99999 is outside the vocabulary" },
        { "step past the generation", HttpStatusCode.BadRequest, "names forward pass 5, but the run has 1" },
        { "oversized request", HttpStatusCode.RequestEntityTooLarge, "larger than this server accepts (4194304 bytes)" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_input_is_refused_clearly_and_the_server_goes_on(string kind, HttpStatusCode expected, string message)
    {
        var body = HostileBody(kind);

        var (status, error) = ServerClient.ErrorOf(_client.Submit(body));

        Assert.Equal(expected, status);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.True(_client.IsHealthy());
        Assert.Equal(RemoteJobStates.Completed, _client.WaitFinal(_client.SubmitJob(Valid().ToJsonString())).Status);
    }

    private JsonObject Valid() => ServerClient.ValidRequest(_model);

    private string HostileBody(string kind)
    {
        var request = Valid();
        var nodes = request["graph"]!["nodes"]!.AsArray();
        switch (kind)
        {
            case "invalid json":
                return "{\"protocol\": 1, \"model\": ";
            case "unknown model":
                request["model"] = "gpt-5";
                break;
            case "unknown op":
                nodes[1]!["op"] = "system";
                break;
            case "local code":
                nodes[1]!["op"] = "apply";
                break;
            case "node cycle":
                nodes[1]!["args"]![0] = new JsonObject { ["node"] = 2 };
                break;
            case "unknown module":
                nodes[0]!["access"]!["path"] = "transformer.h.99";
                break;
            case "huge constant":
                nodes.Add(Node(nodes.Count, "neg", new JsonObject { ["tensor"] = new JsonObject
                {
                    ["dtype"] = "Float32", ["shape"] = new JsonArray(524288), ["data"] = Convert.ToBase64String(new byte[2097152]),
                } }));
                break;
            case "too many nodes":
                for (var i = 0; i < 2100; i++)
                {
                    nodes.Add(Node(nodes.Count, "neg", new JsonObject { ["node"] = 1 }));
                }
                break;
            case "ill-typed argument":
                nodes.Add(Node(nodes.Count, "matmul", new JsonObject { ["node"] = 1 }, new JsonObject { ["node"] = 1 }));
                break;
            case "token outside the vocabulary":
                request["invocations"]![0]![0]!["ids"]![0] = 99999;
                break;
            case "step past the generation":
                nodes[0]!["access"]!["call"] = 5;
                break;
            case "oversized request":
                request["padding"] = new string('x', 5 << 20);
                break;
        }
        return request.ToJsonString();
    }

    private static JsonObject Node(int id, string op, params JsonNode[] args) =>
        new() { ["id"] = id, ["op"] = op, ["args"] = new JsonArray(args) };
}
