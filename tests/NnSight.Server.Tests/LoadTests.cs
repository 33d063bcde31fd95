using System.Text.Json.Nodes;
using CsCheck;
using NnSight.Models;
using NnSight.TestSupport;

namespace NnSight.Server.Tests;

/// <summary>Many clients at once, and generated garbage: every answer is right, or a 4xx, and the server stays up.</summary>
public sealed class LoadTests(TinyGpt2Fixture fixture, ServerProcess server)
    : IClassFixture<TinyGpt2Fixture>, IClassFixture<ServerProcess>
{
    private static readonly string[] Prompts =
    [
        "The Eiffel Tower is in the city of",
        "Madison square garden is located in the city of New",
        "When John and Mary went to the shops, John gave the bag to",
        "_ _ _ _ _ _ _ _ _ _",
    ];

    [Fact]
    public void Eight_clients_with_four_requests_each_all_get_their_own_results()
    {
        var expected = Prompts.Select((prompt, index) => Run(fixture.Model, prompt, index % 4, remote: null)).ToList();

        var results = Enumerable.Range(0, 8).AsParallel().WithDegreeOfParallelism(8).Select(client =>
        {
            using var model = LanguageModel.FromPretrained(RepositoryPaths.TinyGpt2);
            return Enumerable.Range(0, 4).Select(request =>
            {
                var index = (client + request) % Prompts.Length;
                return (index, Tensor: Run(model, Prompts[index], index % 4, server.Settings()));
            }).ToList();
        }).SelectMany(results => results).ToList();

        Assert.Equal(32, results.Count);
        foreach (var (index, tensor) in results)
        {
            TensorAssert.Close(expected[index], tensor, ServerProcess.Rtol, ServerProcess.Atol, $"prompt {index}");
        }
    }

    [Fact]
    public void Generated_requests_never_make_the_server_fail()
    {
        using var client = new ServerClient(server);
        var valid = ServerClient.ValidRequest(fixture.Model).ToJsonString();
        var mutation = Gen.Select(Gen.Int[0, 11], Gen.Int[0, 3], Gen.Int[-2, 40], Gen.String[0, 16], Gen.Double);

        mutation.Array[1, 6].Sample(mutations =>
        {
            var body = Mutate(valid, mutations);
            using var response = client.Submit(body);
            Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode} for {body[..Math.Min(400, body.Length)]}");
        }, iter: 300, threads: 1);

        Assert.True(client.IsHealthy());
        Assert.Equal(RemoteJobStates.Completed, client.WaitFinal(client.SubmitJob(valid)).Status);
    }

    /// <summary>
    /// Applies generated edits to a valid request: ops, arguments (tensors, indices, token selections, dtypes), accesses,
    /// fields, truncation; enum fields get numbers as text and counts get negative values.
    /// </summary>
    private static string Mutate(string valid, (int Kind, int Node, int Number, string Text, double Real)[] mutations)
    {
        var request = JsonNode.Parse(valid)!.AsObject();
        var nodes = ServerClient.FirstTrace(request)["graph"]!["nodes"]!.AsArray();
        var truncate = -1;
        foreach (var (kind, nodeIndex, number, text, real) in mutations)
        {
            var node = nodes[nodeIndex % nodes.Count]!.AsObject();
            switch (kind)
            {
                case 0:
                    node["op"] = text.Length > 0 ? text : Intervention.OpRegistry.Ops.Keys.ElementAt(Math.Abs(number) % Intervention.OpRegistry.Ops.Count);
                    break;
                case 1:
                    node["args"] = new JsonArray(new JsonObject { ["node"] = number }, new JsonObject { ["int"] = number });
                    break;
                case 2:
                    node["args"] = new JsonArray(new JsonObject { ["float"] = real }, JsonValue.Create(text), new JsonObject { ["ints"] = new JsonArray(number, -number) });
                    break;
                case 3:
                    node["access"] = new JsonObject { ["path"] = text, ["kind"] = Name("output", number, text), ["invocation"] = number, ["call"] = -number };
                    break;
                case 4:
                    node["args"] = new JsonArray(new JsonObject { ["tensor"] = new JsonObject { ["dtype"] = Name("Float32", number, text), ["shape"] = new JsonArray(number), ["data"] = "AAAA" } });
                    break;
                case 5:
                    node["args"] = new JsonArray(new JsonObject { ["index"] = new JsonArray(new JsonObject { ["kind"] = Name("single", number, text), ["start"] = number }) });
                    break;
                case 6:
                    node["id"] = number;
                    break;
                case 7:
                    ServerClient.FirstTrace(request)["invocations"] = new JsonArray(new JsonArray(new JsonObject
                    {
                        ["ids"] = new JsonArray(number, number), ["mask"] = number % 2 == 0 ? new JsonArray(1, 1) : new JsonArray(number),
                    }));
                    break;
                case 8:
                    ServerClient.FirstTrace(request)["generation"] = number % 2 == 0
                        ? new JsonObject { ["maxNewTokens"] = number }
                        : new JsonObject { ["maxNewTokens"] = number, ["topP"] = real, ["temperature"] = -real };
                    break;
                case 9:
                    node["op"] = "token";
                    node["args"] = new JsonArray(new JsonObject { ["node"] = 0 },
                        new JsonObject { ["token"] = new JsonObject { ["index"] = new JsonObject { ["value"] = number, ["fromEnd"] = real < 0 } } },
                        new JsonObject { ["int"] = -number });
                    break;
                case 10:
                    node["op"] = "to_dtype";
                    node["args"] = new JsonArray(new JsonObject { ["node"] = 0 }, new JsonObject { ["dtype"] = Name("Float16", number, text) });
                    break;
                default:
                    truncate = Math.Abs(number) * 37;
                    break;
            }
        }
        var text2 = request.ToJsonString();
        return truncate >= 0 && truncate < text2.Length ? text2[..truncate] : text2;
    }

    /// <summary>
    /// An enum field's value: a valid name, generated text, or a number as text (which <c>Enum.Parse</c> takes), small
    /// (often a defined value) or past every defined value.
    /// </summary>
    private static string Name(string valid, int number, string text) => (number % 3) switch
    {
        0 => valid,
        1 or -1 => text,
        _ => (number % 2 == 0 ? number : number + 60).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static TorchSharp.torch.Tensor Run(LanguageModel model, string prompt, int layer, RemoteSettings? remote)
    {
        TensorProxy saved;
        var tracer = remote is null ? model.Trace() : model.Trace(remote);
        using (tracer)
        using (tracer.Invoke(prompt))
        {
            saved = model.Envoy("transformer.h")[layer].Output[0].Token[^1].Save();
        }
        return saved.Value;
    }
}
