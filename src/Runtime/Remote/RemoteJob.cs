using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using NnSight.Intervention;
using NnSight.Serialization;
using static TorchSharp.torch;

namespace NnSight;

/// <summary>
/// A job on an NnSight server: submitted when a remote tracing context is disposed. A blocking context waits for it;
/// otherwise keep the handle (<c>tracer.Job</c>) and call <see cref="Status"/> to poll or <see cref="Wait"/> to fill
/// the saved values.
/// </summary>
public sealed class RemoteJob
{
    private static readonly HttpClient Http = new() { Timeout = Timeout.InfiniteTimeSpan };

    private readonly RemoteSettings _settings;
    private readonly Action<GraphResult> _complete;
    private GraphResult? _result;

    private RemoteJob(string id, RemoteSettings settings, Action<GraphResult> complete)
    {
        Id = id;
        _settings = settings;
        _complete = complete;
    }

    /// <summary>The job's id on the server.</summary>
    public string Id { get; }

    /// <summary>Whether the result has been downloaded and the saved values filled.</summary>
    public bool IsFilled => _result is not null;

    /// <summary>Sends <paramref name="request"/>; returns the job as soon as the server has accepted it.</summary>
    /// <exception cref="RemoteException">The server refused the request.</exception>
    internal static RemoteJob Submit(RemoteSettings settings, RemoteJobRequest request, Action<GraphResult> complete)
    {
        using var message = Request(settings, HttpMethod.Post, "v1/jobs");
        message.Content = new StringContent(JsonSerializer.Serialize(request, RemoteProtocol.Json), Encoding.UTF8, "application/json");
        var status = Read<RemoteStatus>(Send(message));
        settings.Progress?.WriteLine($"[nnsight] {status}");
        return new RemoteJob(status.Job, settings, complete);
    }

    /// <summary>Asks the server for the job's current status.</summary>
    public RemoteStatus Status()
    {
        using var message = Request(_settings, HttpMethod.Get, $"v1/jobs/{Id}");
        return Read<RemoteStatus>(Send(message));
    }

    /// <summary>
    /// Follows the job's status stream until it ends (reconnecting when the stream drops), downloads the result and
    /// fills the saved values. Returns at once when already filled.
    /// </summary>
    /// <exception cref="RemoteException">The job ended in ERROR.</exception>
    public void Wait()
    {
        if (_result is not null)
        {
            return;
        }
        var final = FollowUntilFinal();
        if (final.Status == RemoteJobStates.Error)
        {
            throw new RemoteException($"Remote job {Id} failed: {final.Message}");
        }
        _result = Download();
        _complete(_result);
    }

    private RemoteStatus FollowUntilFinal()
    {
        while (true)
        {
            try
            {
                using var message = Request(_settings, HttpMethod.Get, $"v1/jobs/{Id}/events");
                using var response = Send(message, streaming: true);
                using var reader = new StreamReader(response.Content.ReadAsStream());
                while (reader.ReadLine() is { } line)
                {
                    if (!line.StartsWith("data: ", StringComparison.Ordinal))
                    {
                        continue;
                    }
                    var status = JsonSerializer.Deserialize<RemoteStatus>(line["data: ".Length..], RemoteProtocol.Json)!;
                    _settings.Progress?.WriteLine($"[nnsight] {status}");
                    if (RemoteJobStates.IsFinal(status.Status))
                    {
                        return status;
                    }
                }
            }
            catch (Exception error) when (error is IOException or HttpRequestException)
            {
                _settings.Progress?.WriteLine($"[nnsight] job {Id}: status stream dropped ({error.Message}); reconnecting");
            }
            var current = Status();
            if (RemoteJobStates.IsFinal(current.Status))
            {
                return current;
            }
        }
    }

    private GraphResult Download()
    {
        using var message = Request(_settings, HttpMethod.Get, $"v1/jobs/{Id}/result");
        using var response = Send(message, streaming: true);
        var path = Path.Combine(Path.GetTempPath(), $"nnsight-{Id}-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var file = File.Create(path))
            {
                response.Content.ReadAsStream().CopyTo(file);
            }
            using var result = SafetensorsFile.Open(path);
            var saved = new Dictionary<int, Tensor>();
            foreach (var name in result.Tensors.Keys.Where(name => name.StartsWith("node.", StringComparison.Ordinal)))
            {
                saved[int.Parse(name["node.".Length..], System.Globalization.CultureInfo.InvariantCulture)] = result.Read(name).DetachFromDisposeScope();
            }
            return new GraphResult(result.Read(RemoteProtocol.OutputTensor).DetachFromDisposeScope(), saved);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static HttpRequestMessage Request(RemoteSettings settings, HttpMethod method, string path)
    {
        var message = new HttpRequestMessage(method, new Uri(settings.Server, path));
        if (settings.ApiKey is { } key)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return message;
    }

    private static HttpResponseMessage Send(HttpRequestMessage message, bool streaming = false)
    {
        var response = Http.Send(message, streaming ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            using var reader = new StreamReader(response.Content.ReadAsStream());
            var body = reader.ReadToEnd();
            string error;
            try
            {
                using var document = JsonDocument.Parse(body);
                error = document.RootElement.GetProperty("error").GetString() ?? body;
            }
            catch (Exception parse) when (parse is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                error = body;
            }
            throw new RemoteException($"The server answered {(int)response.StatusCode} ({response.StatusCode}): {error}", (int)response.StatusCode);
        }
    }

    private static T Read<T>(HttpResponseMessage response)
    {
        using (response)
        {
            return JsonSerializer.Deserialize<T>(response.Content.ReadAsStream(), RemoteProtocol.Json)
                ?? throw new RemoteException("The server answered with an empty body.");
        }
    }
}
