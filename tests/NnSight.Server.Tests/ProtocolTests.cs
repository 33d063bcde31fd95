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

    [Fact]
    public void At_start_the_server_says_where_it_listens_what_it_serves_and_where_results_go()
    {
        Assert.Equal(
            $"NnSight server listening on http://127.0.0.1:{server.Port}, serving tiny-gpt2 ({RepositoryPaths.TinyGpt2}), " +
            $"tiny-llama ({RepositoryPaths.TinyLlama}); results in {server.ResponsePath}",
            server.StartupLine);
    }

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
    public void A_client_of_the_old_protocol_version_is_refused_naming_both()
    {
        var request = Valid();
        request["protocol"] = 1;

        var (status, error) = ServerClient.ErrorOf(_client.Submit(request.ToJsonString()));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("The client speaks protocol version 1, but this server speaks version 2; update the client or the server.", error);
    }

    [Fact]
    public void An_op_on_a_session_value_is_checked_against_the_shape_the_earlier_trace_gives_it()
    {
        var request = Valid();
        var first = ServerClient.FirstTrace(request);
        first["graph"]!["nodes"]![1]!["kept"] = true;
        var second = JsonNode.Parse(first.ToJsonString())!.AsObject();
        second["graph"]!["nodes"] = new JsonArray(
            Node(0, "session_value", new JsonObject { ["import"] = new JsonObject { ["trace"] = 0, ["node"] = 1 } }),
            Node(1, "matmul", new JsonObject { ["node"] = 0 }, new JsonObject { ["node"] = 0 }));
        request["traces"]!.AsArray().Add(second);

        var (status, error) = ServerClient.ErrorOf(_client.Submit(request.ToJsonString()));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("trace 1: Node 1: ", error, StringComparison.Ordinal);
        Assert.Contains("does not fit its operands' shapes", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 1, false, "trace 1: Node 0 reads node 1 of trace 0, which is not a kept value of an earlier trace.")]
    [InlineData(0, 99, true, "trace 1: Node 0 reads node 99 of trace 0, which is not a kept value of an earlier trace.")]
    [InlineData(1, 1, true, "trace 1: Node 0 reads node 1 of trace 1, which is not a kept value of an earlier trace.")]
    public void A_session_value_that_no_earlier_trace_keeps_is_refused(int trace, int node, bool kept, string message)
    {
        var request = Valid();
        var first = ServerClient.FirstTrace(request);
        first["graph"]!["nodes"]![1]!["kept"] = kept;
        var second = JsonNode.Parse(first.ToJsonString())!.AsObject();
        second["graph"]!["nodes"] = new JsonArray(
            Node(0, "session_value", new JsonObject { ["import"] = new JsonObject { ["trace"] = trace, ["node"] = node } }),
            Node(1, "neg", new JsonObject { ["node"] = 0 }));
        request["traces"]!.AsArray().Add(second);

        var (status, error) = ServerClient.ErrorOf(_client.Submit(request.ToJsonString()));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(message, error);
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
        { "numeric tensor dtype", HttpStatusCode.BadRequest, "Node 3: tensor dtype \"99\" is not one of Float64, Float32, " },
        { "numeric dtype argument", HttpStatusCode.BadRequest, "Node 3: dtype \"6\" is not one of Float64, Float32, " },
        { "numeric access kind", HttpStatusCode.BadRequest, "Node 0: access kind \"1\" is not one of output, input, inputs." },
        { "numeric index kind", HttpStatusCode.BadRequest, "Node 3: index kind \"0\" is not one of single, slice, ellipsis, newaxis, bool, tensor." },
        { "tensor index without its tensor", HttpStatusCode.BadRequest, "Node 3: a tensor index needs its \"tensor\"." },
        { "negative token invocation", HttpStatusCode.BadRequest, "Node 3 (token) names invocation -1, but the request has 1." },
        { "negative token position", HttpStatusCode.BadRequest, "Node 3: token position must not be negative." },
        { "token range past the prompt", HttpStatusCode.BadRequest, "Node 4: transformer.h.3.output[0].Token[0..50] selects positions outside the prompt's 10 token(s)." },
        { "tuple element past the end", HttpStatusCode.BadRequest, "Node 4: transformer.h.3.output[7]: the value has 2 elements." },
        { "missing field", HttpStatusCode.BadRequest, "Node 1: \"args\" is missing." },
        { "field of the wrong kind", HttpStatusCode.BadRequest, "Node 1 is malformed: " },
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

    private string HostileBody(string kind) => HostileBody(_model, kind);

    /// <summary>The request of a <see cref="Hostile"/> case: the valid request, broken as <paramref name="kind"/> says.</summary>
    internal static string HostileBody(LanguageModel model, string kind)
    {
        var request = ServerClient.ValidRequest(model);
        var nodes = ServerClient.FirstTrace(request)["graph"]!["nodes"]!.AsArray();
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
                ServerClient.FirstTrace(request)["invocations"]![0]![0]!["ids"]![0] = 99999;
                break;
            case "step past the generation":
                nodes[0]!["access"]!["call"] = 5;
                break;
            case "oversized request":
                request["padding"] = new string('x', 5 << 20);
                break;
            case "numeric tensor dtype":
                nodes.Add(Node(nodes.Count, "neg", new JsonObject { ["tensor"] = new JsonObject
                {
                    ["dtype"] = "99", ["shape"] = new JsonArray(1), ["data"] = "AAAAAA==",
                } }));
                break;
            case "numeric dtype argument":
                nodes.Add(Node(nodes.Count, "to_dtype", new JsonObject { ["node"] = 1 }, new JsonObject { ["dtype"] = "6" }));
                break;
            case "numeric access kind":
                nodes[0]!["access"]!["kind"] = "1";
                break;
            case "numeric index kind":
                nodes.Add(Node(nodes.Count, "index", new JsonObject { ["node"] = 1 },
                    new JsonObject { ["index"] = new JsonArray(new JsonObject { ["kind"] = "0", ["start"] = 0 }) }));
                break;
            case "tensor index without its tensor":
                nodes.Add(Node(nodes.Count, "index", new JsonObject { ["node"] = 1 },
                    new JsonObject { ["index"] = new JsonArray(new JsonObject { ["kind"] = "tensor" }) }));
                break;
            case "negative token invocation":
                nodes.Add(Node(nodes.Count, "token", new JsonObject { ["node"] = 1 },
                    new JsonObject { ["token"] = new JsonObject { ["index"] = new JsonObject { ["value"] = 0, ["fromEnd"] = false } } },
                    new JsonObject { ["int"] = -1 }));
                break;
            case "negative token position":
                nodes.Add(Node(nodes.Count, "token", new JsonObject { ["node"] = 1 },
                    new JsonObject { ["token"] = new JsonObject { ["index"] = new JsonObject { ["value"] = -1, ["fromEnd"] = false } } },
                    new JsonObject { ["int"] = 0 }));
                break;
            case "token range past the prompt":
                nodes.Add(Node(nodes.Count, "token", new JsonObject { ["node"] = 1 }, new JsonObject { ["token"] = new JsonObject
                {
                    ["start"] = new JsonObject { ["value"] = 0, ["fromEnd"] = false }, ["end"] = new JsonObject { ["value"] = 50, ["fromEnd"] = false },
                } }, new JsonObject { ["int"] = 0 }));
                nodes.Add(Node(nodes.Count, "neg", new JsonObject { ["node"] = 3 }));
                break;
            case "tuple element past the end":
                nodes.Add(Node(nodes.Count, "getitem", new JsonObject { ["node"] = 0 }, new JsonObject { ["int"] = 7 }));
                nodes.Add(Node(nodes.Count, "neg", new JsonObject { ["node"] = 3 }));
                break;
            case "missing field":
                nodes[1]!.AsObject().Remove("args");
                break;
            case "field of the wrong kind":
                nodes[1]!["args"] = "node 0";
                break;
        }
        return request.ToJsonString();
    }

    private static JsonObject Node(int id, string op, params JsonNode[] args) =>
        new() { ["id"] = id, ["op"] = op, ["args"] = new JsonArray(args) };
}
