using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NnSight.Intervention;
using NnSight.Models;

namespace NnSight.Server.Tests;

/// <summary>Raw HTTP access to a test server, for requests a well-behaved client would never send.</summary>
internal sealed class ServerClient(ServerProcess server) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>A valid request body: one invocation of the Eiffel prompt saving h[-1] output[0] and the logits.</summary>
    public static JsonObject ValidRequest(LanguageModel model, GenerationOptions? generation = null)
    {
        using var tracer = model.Trace();
        using (tracer.Invoke("The Eiffel Tower is in the city of"))
        {
            model.Envoy("transformer.h")[^1].Output[0].Save();
            model.Envoy("lm_head").Output.Save();
        }
        var request = new RemoteJobRequest(RemoteProtocol.Version, "tiny-gpt2", [new RemoteTrace(
            [[new TokenRow([.. model.RequireTokenizer().Encode("The Eiffel Tower is in the city of").Select(id => (long)id)])]],
            generation, JsonDocument.Parse(GraphSerializer.Serialize(tracer.Graph)).RootElement)]);
        return JsonNode.Parse(JsonSerializer.Serialize(request, RemoteProtocol.Json))!.AsObject();
    }

    /// <summary>The first (for these requests, the only) trace of <paramref name="request"/>.</summary>
    public static JsonObject FirstTrace(JsonObject request) => request["traces"]![0]!.AsObject();

    /// <summary>
    /// A request that keeps the server busy for a while: 64 rows generating 117 tokens, reading the logits at every step.
    /// </summary>
    public static JsonObject SlowRequest(LanguageModel model) => GenerationRequest(model, rows: 64, steps: 117);

    /// <summary><paramref name="rows"/> rows generating <paramref name="steps"/> tokens, saving the top probability at every step.</summary>
    public static JsonObject GenerationRequest(LanguageModel model, int rows, int steps)
    {
        var ids = model.RequireTokenizer().Encode("The Eiffel Tower is in the city of").Select(id => (long)id).ToArray();
        using var tracer = model.Generate(steps);
        using (var invoker = tracer.Invoke(ids))
        {
            for (var step = 0; step < steps; step++)
            {
                model.Envoy("lm_head").Output.softmax(-1).max().Save();
                if (step < steps - 1)
                {
                    invoker.Next();
                }
            }
        }
        var request = new RemoteJobRequest(RemoteProtocol.Version, "tiny-gpt2", [new RemoteTrace(
            [[.. Enumerable.Repeat(new TokenRow(ids), rows)]],
            new GenerationOptions { MaxNewTokens = steps, EosTokenId = -1 }, JsonDocument.Parse(GraphSerializer.Serialize(tracer.Graph)).RootElement)]);
        return JsonNode.Parse(JsonSerializer.Serialize(request, RemoteProtocol.Json))!.AsObject();
    }

    /// <summary>Waits until <paramref name="job"/> reports <paramref name="state"/> (or a final state).</summary>
    public RemoteStatus WaitFor(string job, string state)
    {
        for (var attempt = 0; attempt < 1200; attempt++)
        {
            using var response = Get($"v1/jobs/{job}");
            var status = JsonSerializer.Deserialize<RemoteStatus>(response.Content.ReadAsStream(), RemoteProtocol.Json)!;
            if (status.Status == state || RemoteJobStates.IsFinal(status.Status))
            {
                return status;
            }
            Thread.Sleep(10);
        }
        throw new TimeoutException($"Job {job} never reported {state}.");
    }

    public HttpResponseMessage Submit(string body, string? apiKey = ServerProcess.ApiKey, string? idempotencyKey = null) =>
        Send(HttpMethod.Post, "v1/jobs", apiKey, new StringContent(body, Encoding.UTF8, "application/json"), idempotencyKey);

    /// <summary>Submits <paramref name="body"/> with an <c>Idempotency-Key</c>; returns the status code and the job id.</summary>
    public (HttpStatusCode Status, string Job) SubmitOnce(string body, string idempotencyKey, string apiKey = ServerProcess.ApiKey)
    {
        using var response = Submit(body, apiKey, idempotencyKey);
        var text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode}: {text}");
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.GetProperty("job").GetString()!);
    }

    public HttpResponseMessage Get(string path, string? apiKey = ServerProcess.ApiKey) => Send(HttpMethod.Get, path, apiKey);

    /// <summary>Submits <paramref name="body"/> and returns the job id (asserting 202).</summary>
    public string SubmitJob(string body, string? apiKey = ServerProcess.ApiKey)
    {
        using var response = Submit(body, apiKey);
        var text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("job").GetString()!;
    }

    /// <summary>Polls a job until it is COMPLETED or ERROR; returns the final status.</summary>
    public RemoteStatus WaitFinal(string job, string apiKey = ServerProcess.ApiKey)
    {
        for (var attempt = 0; attempt < 1200; attempt++)
        {
            using var response = Get($"v1/jobs/{job}", apiKey);
            var status = JsonSerializer.Deserialize<RemoteStatus>(response.Content.ReadAsStream(), RemoteProtocol.Json)!;
            if (RemoteJobStates.IsFinal(status.Status))
            {
                return status;
            }
            Thread.Sleep(50);
        }
        throw new TimeoutException($"Job {job} did not finish.");
    }

    /// <summary>The status code and the server's error message of <paramref name="response"/>.</summary>
    public static (HttpStatusCode Status, string Error) ErrorOf(HttpResponseMessage response)
    {
        using (response)
        {
            var text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            try
            {
                return (response.StatusCode, JsonDocument.Parse(text).RootElement.GetProperty("error").GetString()!);
            }
            catch (Exception error) when (error is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                return (response.StatusCode, text);
            }
        }
    }

    /// <summary>Downloads job <paramref name="job"/>'s result (asserting 200) and reads every tensor of it.</summary>
    public Dictionary<string, TorchSharp.torch.Tensor> Result(string job, string apiKey = ServerProcess.ApiKey)
    {
        using var response = Get($"v1/jobs/{job}/result", apiKey);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var path = Path.Combine(Path.GetTempPath(), $"nnsight-test-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var file = File.Create(path))
            {
                response.Content.ReadAsStream().CopyTo(file);
            }
            using var result = Serialization.SafetensorsFile.Open(path);
            return result.Tensors.Keys.ToDictionary(name => name, name => result.Read(name).DetachFromDisposeScope());
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Every status of job <paramref name="job"/> so far, from its event stream (which ends at a final status).</summary>
    public string Events(string job, string apiKey = ServerProcess.ApiKey)
    {
        using var response = Get($"v1/jobs/{job}/events", apiKey);
        return response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
    }

    public bool IsHealthy() => _http.GetStringAsync("health").GetAwaiter().GetResult() == "ok";

    public void Dispose() => _http.Dispose();

    private HttpResponseMessage Send(HttpMethod method, string path, string? apiKey, HttpContent? content = null, string? idempotencyKey = null)
    {
        using var message = new HttpRequestMessage(method, path) { Content = content };
        if (idempotencyKey is not null)
        {
            message.Headers.TryAddWithoutValidation(RemoteProtocol.IdempotencyHeader, idempotencyKey);
        }
        message.Headers.ExpectContinue = content is not null;
        if (apiKey is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
        return _http.Send(message);
    }
}
