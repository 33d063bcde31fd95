using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace NnSight.Models.Hub;

/// <summary>A repository at a revision: the commit it resolves to and its file names.</summary>
internal sealed record RepoRevision(string Commit, IReadOnlySet<string> Files);

/// <summary>
/// What a HEAD of a file's resolve address says, as huggingface_hub reads it: the commit (<c>X-Repo-Commit</c>), the
/// content's id (<c>X-Linked-Etag</c> for LFS files, else <c>ETag</c>), the size (<c>X-Linked-Size</c>, else
/// <c>Content-Length</c>) and where the content is (the LFS redirect's <c>Location</c>, else the address itself).
/// </summary>
internal sealed record FileMetadata(string Commit, string Etag, long? Size, Uri Location);

/// <summary>
/// The hub's HTTP interface (<c>/api/models/{repo}/revision/{revision}</c>, <c>/{repo}/resolve/{revision}/{file}</c>),
/// synchronous because loading is. Redirects are followed by hand: relative ones (a renamed repository) always, an
/// absolute one (the LFS storage) only for a download, and the token only ever goes to the endpoint's own host.
/// A failure to connect, or a timeout, is a <see cref="HubUnreachableException"/>; an error status a
/// <see cref="HubException"/> naming its cause.
/// </summary>
internal sealed partial class HubClient(HubSettings settings)
{
    private const int MaxRedirects = 10;

    private static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private static readonly ProductInfoHeaderValue UserAgent = new("nnsight-dotnet",
        typeof(HubClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0");

    private readonly Uri _endpoint = new(settings.Endpoint + "/");

    public HubSettings Settings => settings;

    /// <summary>The commit <paramref name="revision"/> of <paramref name="repo"/> is at, and its files.</summary>
    public RepoRevision GetRevision(string repo, string revision)
    {
        var url = new Uri(_endpoint, $"api/models/{repo}/revision/{Uri.EscapeDataString(revision)}");
        using var response = SendMetadata(HttpMethod.Get, url, completion: HttpCompletionOption.ResponseContentRead);
        if (!response.IsSuccessStatusCode)
        {
            throw HubErrors.FromStatus(response, settings, repo, revision, file: null);
        }
        try
        {
            using var document = JsonDocument.Parse(response.Content.ReadAsStream());
            var root = document.RootElement;
            var commit = root.GetProperty("sha").GetString() ?? "";
            var files = root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array
                ? siblings.EnumerateArray().Select(sibling => sibling.GetProperty("rfilename").GetString()).OfType<string>().ToHashSet(StringComparer.Ordinal)
                : [];
            return new RepoRevision(RequireName(commit, "sha", url), files);
        }
        catch (Exception error) when (error is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new HubException($"{url} did not answer with a model's revision (sha and siblings): {error.Message}", error);
        }
    }

    /// <summary>HEADs <paramref name="file"/> at <paramref name="revision"/> without following the LFS redirect.</summary>
    public FileMetadata Head(string repo, string revision, string file)
    {
        var url = ResolveUrl(repo, revision, file);
        using var response = SendMetadata(HttpMethod.Head, url, completion: HttpCompletionOption.ResponseHeadersRead);
        var redirected = (int)response.StatusCode is >= 300 and < 400;
        if (!response.IsSuccessStatusCode && !redirected)
        {
            throw HubErrors.FromStatus(response, settings, repo, revision, file);
        }
        var commit = Header(response, "X-Repo-Commit")
            ?? throw new HubException($"{settings.Endpoint} did not answer like a HuggingFace hub: the HEAD of {url} has no X-Repo-Commit header.");
        var etag = Header(response, "X-Linked-Etag") ?? Header(response, "ETag")
            ?? throw new HubException($"{settings.Endpoint} did not answer like a HuggingFace hub: the HEAD of {url} has no ETag header.");
        var size = long.TryParse(Header(response, "X-Linked-Size"), out var linked) ? linked : response.Content.Headers.ContentLength;
        var location = redirected && response.Headers.Location is { } target ? new Uri(response.RequestMessage!.RequestUri!, target) : response.RequestMessage!.RequestUri!;
        return new FileMetadata(RequireName(commit, "X-Repo-Commit", url), RequireName(NormalizeEtag(etag), "ETag", url), size, location);
    }

    /// <summary>
    /// GETs <paramref name="location"/> from byte <paramref name="offset"/> on (a <c>Range</c> request when it is not
    /// 0), following redirects, and returns the response once its headers arrived; the caller reads and disposes it.
    /// </summary>
    public HttpResponseMessage OpenDownload(Uri location, long offset)
    {
        var url = location;
        for (var redirects = 0; ; redirects++)
        {
            var response = Send(() =>
            {
                var request = Request(HttpMethod.Get, url);
                if (offset > 0)
                {
                    request.Headers.Range = new RangeHeaderValue(offset, null);
                }
                return request;
            }, settings.DownloadTimeout, HttpCompletionOption.ResponseHeadersRead);
            if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } target && redirects < MaxRedirects)
            {
                url = new Uri(url, target);
                response.Dispose();
                continue;
            }
            return response;
        }
    }

    /// <summary>The address of a file: <c>{endpoint}/{repo}/resolve/{revision}/{file}</c>, escaped as huggingface_hub does.</summary>
    public Uri ResolveUrl(string repo, string revision, string file) =>
        new(_endpoint, $"{repo}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    /// <summary>A request; the token goes only to the endpoint's own host, never to the storage an LFS file redirects to.</summary>
    private HttpRequestMessage Request(HttpMethod method, Uri url)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.UserAgent.Add(UserAgent);
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
        if (settings.Token is { } token && Uri.Compare(url, _endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return request;
    }

    /// <summary>Sends a metadata request, following relative redirects (a renamed repository) but not absolute ones.</summary>
    private HttpResponseMessage SendMetadata(HttpMethod method, Uri url, HttpCompletionOption completion)
    {
        for (var redirects = 0; ; redirects++)
        {
            var current = url;
            var response = Send(() => Request(method, current), settings.MetadataTimeout, completion);
            if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { IsAbsoluteUri: false } target && redirects < MaxRedirects)
            {
                url = new Uri(url, target);
                response.Dispose();
                continue;
            }
            return response;
        }
    }

    private HttpResponseMessage Send(Func<HttpRequestMessage> request, TimeSpan timeout, HttpCompletionOption completion)
    {
        using var message = request();
        using var timer = new CancellationTokenSource(timeout);
        try
        {
            return Http.Send(message, completion, timer.Token);
        }
        catch (HttpRequestException error)
        {
            throw new HubUnreachableException($"{message.RequestUri} could not be reached: {error.Message}", error);
        }
        catch (OperationCanceledException error) when (timer.IsCancellationRequested)
        {
            throw new HubUnreachableException($"{message.RequestUri} did not answer within {timeout.TotalSeconds:0.#} s", error);
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault()
            : null;

    /// <summary>An etag without the weak marker and quotes, as huggingface_hub normalizes it.</summary>
    private static string NormalizeEtag(string etag) => (etag.StartsWith("W/", StringComparison.Ordinal) ? etag[2..] : etag).Trim('"');

    /// <summary>A commit or etag becomes a file name in the cache, so it must be one plain name.</summary>
    private string RequireName(string value, string field, Uri url) =>
        SafeName().IsMatch(value) && value is not ("." or "..")
            ? value
            : throw new HubException($"{settings.Endpoint} did not answer like a HuggingFace hub: {url} gave {field} \"{value}\", which is not a commit or content id.");

    [GeneratedRegex("^[A-Za-z0-9._-]{1,128}$")]
    private static partial Regex SafeName();
}
