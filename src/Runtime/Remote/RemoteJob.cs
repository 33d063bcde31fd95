using System.Net.Http.Headers;
using System.Text.Json;
using NnSight.Intervention;
using NnSight.Serialization;
using static TorchSharp.torch;

namespace NnSight;

/// <summary>
/// A job on an NnSight server: submitted when a remote tracing context is disposed. A blocking context waits for it;
/// otherwise keep the handle (<c>tracer.Job</c>) and call <see cref="Status()"/> to poll or <see cref="Wait"/> to fill
/// the saved values.
/// </summary>
public sealed class RemoteJob
{
    // No overall timeout: the status stream lasts as long as the job; every other request is bounded by RemoteSettings.RequestTimeout.
    private static readonly HttpClient Http = new() { Timeout = Timeout.InfiniteTimeSpan };

    private readonly RemoteSettings _settings;
    private readonly Action<IReadOnlyList<GraphResult>> _complete;
    private readonly int _traces;
    private IReadOnlyList<GraphResult>? _result;

    private RemoteJob(string id, RemoteSettings settings, int traces, Action<IReadOnlyList<GraphResult>> complete)
    {
        Id = id;
        _settings = settings;
        _traces = traces;
        _complete = complete;
    }

    /// <summary>The job's id on the server.</summary>
    public string Id { get; }

    /// <summary>Whether the result has been downloaded and the saved values filled.</summary>
    public bool IsFilled => _result is not null;

    /// <summary>
    /// Sends <paramref name="request"/>; returns the job as soon as the server has accepted it. Every attempt carries the
    /// same <c>Idempotency-Key</c>, so a submission whose answer was lost is tried again like any other request: the
    /// server answers a repeat with the job it already has.
    /// </summary>
    /// <exception cref="RemoteException">The server refused the request, or did not answer within the request timeout.</exception>
    internal static RemoteJob Submit(RemoteSettings settings, RemoteJobRequest request, Action<IReadOnlyList<GraphResult>> complete)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(request, RemoteProtocol.Json);
        var key = Guid.NewGuid().ToString("N");
        var status = Bounded(settings, HttpMethod.Post, "v1/jobs", (message, token) =>
        {
            message.Headers.Add(RemoteProtocol.IdempotencyHeader, key);
            message.Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } } };
            return Read<RemoteStatus>(Send(message, token));
        }, Transient);
        settings.Progress?.WriteLine($"[nnsight] {status}");
        return new RemoteJob(status.Job, settings, request.Traces.Count, complete);
    }

    /// <summary>
    /// Asks the server for the job's current status, trying again with growing pauses while the server is out of reach
    /// or unavailable (a restart, a replica set whose Redis is restarting), within the request timeout.
    /// </summary>
    /// <exception cref="RemoteException">The server refused the request, or did not answer within the request timeout.</exception>
    public RemoteStatus Status() => Status(note: null);

    /// <param name="note">Where a retry is reported (a live display's notes), instead of the settings' progress writer.</param>
    private RemoteStatus Status(Action<string>? note) =>
        Bounded(_settings, HttpMethod.Get, $"v1/jobs/{Id}", (message, token) => Read<RemoteStatus>(Send(message, token)), Transient, note);

    /// <summary>
    /// Follows the job's status stream until it ends (reconnecting when the stream drops), downloads the result and
    /// fills the saved values. Returns at once when already filled.
    /// </summary>
    /// <exception cref="RemoteException">The job ended in ERROR, or a status request or the download did not finish within
    /// the request timeout.</exception>
    public void Wait()
    {
        if (_result is not null)
        {
            return;
        }
        RemoteStatus final;
        using (var progress = RemoteJobProgress.Start(Id, _settings.Progress))
        {
            final = FollowUntilFinal(progress);
        }
        if (final.Status == RemoteJobStates.Error)
        {
            throw new RemoteException($"Remote job {Id} failed: {final.Message}");
        }
        _result = Download();
        _complete(_result);
    }

    private RemoteStatus FollowUntilFinal(RemoteJobProgress progress)
    {
        while (true)
        {
            try
            {
                using var message = Request(_settings, HttpMethod.Get, $"v1/jobs/{Id}/events");
                using var response = Send(message, CancellationToken.None, streaming: true);
                using var reader = new StreamReader(response.Content.ReadAsStream());
                while (reader.ReadLine() is { } line)
                {
                    if (!line.StartsWith("data: ", StringComparison.Ordinal))
                    {
                        continue;
                    }
                    var status = JsonSerializer.Deserialize<RemoteStatus>(line["data: ".Length..], RemoteProtocol.Json)!;
                    progress.Report(status);
                    if (RemoteJobStates.IsFinal(status.Status))
                    {
                        return status;
                    }
                }
            }
            catch (Exception error) when (Transient(error))
            {
                progress.Note($"job {Id}: status stream dropped ({error.Message}); reconnecting");
            }
            var current = Status(progress.Note);
            if (RemoteJobStates.IsFinal(current.Status))
            {
                progress.Report(current);
                return current;
            }
        }
    }

    /// <summary>Downloads the result to a temporary file (results can be large) and reads the output and saved values.</summary>
    private IReadOnlyList<GraphResult> Download() => Bounded<IReadOnlyList<GraphResult>>(_settings, HttpMethod.Get, $"v1/jobs/{Id}/result", (message, token) =>
    {
        using var response = Send(message, token, streaming: true);
        // A blocking read of the body ignores the token; disposing the response ends it.
        using var abort = token.Register(response.Dispose);
        var path = Path.Combine(Path.GetTempPath(), $"nnsight-{Id}-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var file = File.Create(path))
            {
                response.Content.ReadAsStream(token).CopyTo(file);
            }
            using var result = SafetensorsFile.Open(path);
            return [.. Enumerable.Range(0, _traces).Select(trace =>
            {
                var prefix = RemoteProtocol.SavedTensor(trace, 0)[..^1];
                var saved = result.Tensors.Keys.Where(name => name.StartsWith(prefix, StringComparison.Ordinal))
                    .ToDictionary(name => int.Parse(name[prefix.Length..], System.Globalization.CultureInfo.InvariantCulture), name => result.Read(name).DetachFromDisposeScope());
                var output = result.Tensors.ContainsKey(RemoteProtocol.OutputTensor(trace)) ? result.Read(RemoteProtocol.OutputTensor(trace)).DetachFromDisposeScope() : null;
                return new GraphResult(output, saved);
            })];
        }
        finally
        {
            File.Delete(path);
        }
    }, Transient);

    /// <summary>
    /// Runs one request and the reading of its answer within the settings' request timeout, trying again after the
    /// failures <paramref name="retry"/> accepts with growing pauses (0.1 s doubling up to 2 s); past the timeout, the
    /// request fails with a message naming it and the last failure. The first retry is reported to <paramref name="note"/>,
    /// or else to the settings' progress writer.
    /// </summary>
    private static T Bounded<T>(RemoteSettings settings, HttpMethod method, string path, Func<HttpRequestMessage, CancellationToken, T> exchange,
        Func<Exception, bool> retry, Action<string>? note = null)
    {
        using var timeout = new CancellationTokenSource(settings.RequestTimeout);
        Uri? address = null;
        Exception? last = null;
        for (var attempt = 0; ; attempt++)
        {
            using var message = Request(settings, method, path);
            address = message.RequestUri;
            try
            {
                return exchange(message, timeout.Token);
            }
            catch (Exception error) when (!timeout.IsCancellationRequested && retry(error))
            {
                if (last is null)
                {
                    (note ?? (line => settings.Progress?.WriteLine($"[nnsight] {line}")))($"{method} {address}: {error.Message}; trying again");
                }
                last = error;
            }
            catch (Exception error) when (timeout.IsCancellationRequested && error is OperationCanceledException or IOException or HttpRequestException or ObjectDisposedException)
            {
                break;
            }
            // Up to 2 s between attempts, spread so that clients waiting on one restarted server do not return in step.
            var pause = TimeSpan.FromMilliseconds(Math.Min(2000, 100 << Math.Min(attempt, 5)) * (0.75 + Random.Shared.NextDouble() / 2));
            if (timeout.Token.WaitHandle.WaitOne(pause))
            {
                break;
            }
        }
        throw new RemoteException(
            $"{method} {address} got no complete answer within {settings.RequestTimeout.TotalSeconds:0.###} s (RemoteSettings.RequestTimeout)" +
            (last is null ? "." : $"; the last attempt failed: {last.Message}"), (last as RemoteException)?.StatusCode);
    }

    /// <summary>
    /// Whether a request that failed with <paramref name="error"/> may succeed later: the connection failed or dropped,
    /// or the server (a proxy before it) answered 502, 503 or 504.
    /// </summary>
    private static bool Transient(Exception error) =>
        error is IOException or HttpRequestException { StatusCode: null } || error is RemoteException { StatusCode: 502 or 503 or 504 };

    /// <summary>The request for <paramref name="path"/> under the server's address, keeping the address's own path.</summary>
    private static HttpRequestMessage Request(RemoteSettings settings, HttpMethod method, string path)
    {
        // A relative URI replaces the last segment of a base without a trailing slash (http://host/nnsight + v1/jobs is /v1/jobs).
        var server = settings.Server.AbsoluteUri.EndsWith('/') ? settings.Server : new Uri(settings.Server.AbsoluteUri + "/");
        var message = new HttpRequestMessage(method, new Uri(server, path));
        if (settings.ApiKey is { } key)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return message;
    }

    private static HttpResponseMessage Send(HttpRequestMessage message, CancellationToken token, bool streaming = false)
    {
        var response = Http.Send(message, streaming ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, token);
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
