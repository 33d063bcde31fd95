using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NnSight.Models.Tests;

/// <summary>A request the fake hub received.</summary>
internal sealed record HubRequest(string Method, string Path, string? Range, string? Authorization);

/// <summary>A repository the fake hub serves: its commit and files.</summary>
internal sealed record FakeRepo(string Id, string Commit, IReadOnlyDictionary<string, byte[]> Files)
{
    private readonly ConcurrentDictionary<string, string> _etags = new(StringComparer.Ordinal);

    /// <summary>The hub's etag of <paramref name="file"/>: sha256 for an LFS file, the git blob sha1 otherwise (hashed once).</summary>
    public string Etag(string file) =>
        _etags.GetOrAdd(file, name => FakeHub.IsLfs(name) ? Sha256(Files[name]) : GitSha1(Files[name]));

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string GitSha1(byte[] content) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {content.Length}\0"), .. content]));
}

/// <summary>
/// A HuggingFace hub inside the test process: Kestrel on 127.0.0.1 (a free port) with the hub's addresses and
/// headers. <c>GET /api/models/{repo}/revision/{revision}</c> lists a repository (<c>sha</c>, <c>siblings</c>);
/// <c>HEAD</c>/<c>GET /{repo}/resolve/{revision}/{file}</c> answer with <c>X-Repo-Commit</c> and <c>ETag</c>, serving
/// files kept in git directly and LFS files (<c>*.safetensors</c>, <c>*.bin</c>) through a 302 to <c>/lfs/{sha256}</c>
/// with <c>X-Linked-Etag</c> and <c>X-Linked-Size</c>. Range requests get 206. Errors carry the hub's
/// <c>X-Error-Code</c>: 404 RepoNotFound, RevisionNotFound, EntryNotFound; 401 (no token) and 403 (another token)
/// GatedRepo for a gated repository. Faults can be armed once per file: a connection cut after some bytes, or
/// content with a changed byte, or a transfer that stalls.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, (FakeRepo Repo, string[] Branches, string? Token)> _repos = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _lfs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _cuts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _corruptions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _stalls = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _lfsNames = new(StringComparer.Ordinal);

    private FakeHub()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.Run(HandleAsync);
        _app.StartAsync().GetAwaiter().GetResult();
        Endpoint = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/');
    }

    /// <summary>The hub's base address, <c>http://127.0.0.1:port</c>.</summary>
    public string Endpoint { get; }

    /// <summary>Whether every request is answered 503, as in an outage.</summary>
    public bool Down { get; set; }

    /// <summary>Every request received, in order.</summary>
    public ConcurrentQueue<HubRequest> Requests { get; } = new();

    public static FakeHub Start() => new();

    public static bool IsLfs(string file) => file.EndsWith(".safetensors", StringComparison.Ordinal) || file.EndsWith(".bin", StringComparison.Ordinal);

    /// <summary>Serves the files of <paramref name="folder"/> as repository <paramref name="id"/>.</summary>
    public FakeRepo AddFolder(string id, string folder, string? token = null, params string[] branches) =>
        Add(id, Directory.EnumerateFiles(folder).ToDictionary(path => Path.GetFileName(path), File.ReadAllBytes, StringComparer.Ordinal), token, branches);

    /// <summary>Serves <paramref name="files"/> as repository <paramref name="id"/>, gated behind <paramref name="token"/>
    /// when one is given, at <c>main</c> and <paramref name="branches"/>.</summary>
    public FakeRepo Add(string id, IReadOnlyDictionary<string, byte[]> files, string? token = null, params string[] branches)
    {
        var commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(id + string.Concat(files.Keys.Order(StringComparer.Ordinal)))));
        var repo = new FakeRepo(id, commit, files);
        foreach (var file in files.Keys.Where(IsLfs))
        {
            _lfs[repo.Etag(file)] = files[file];
            _lfsNames[repo.Etag(file)] = file;
        }
        _repos[id] = (repo, ["main", .. branches], token);
        return repo;
    }

    /// <summary>The next GET of <paramref name="file"/>'s content breaks the connection after <paramref name="bytes"/> bytes.</summary>
    public void CutOnce(string file, int bytes) => _cuts[file] = bytes;

    /// <summary>The next GET of <paramref name="file"/>'s content sends <paramref name="bytes"/> bytes, then nothing
    /// until the client gives up.</summary>
    public void StallOnce(string file, int bytes) => _stalls[file] = bytes;

    /// <summary>The next <paramref name="times"/> GETs of <paramref name="file"/>'s content have their first byte changed.</summary>
    public void Corrupt(string file, int times) => _corruptions[file] = times;

    /// <summary>The requests whose path ends with <paramref name="suffix"/>.</summary>
    public List<HubRequest> RequestsFor(string suffix) => [.. Requests.Where(request => request.Path.EndsWith(suffix, StringComparison.Ordinal))];

    public void Dispose() => _app.DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "";
        Requests.Enqueue(new HubRequest(request.Method, path, request.Headers.Range.FirstOrDefault(), request.Headers.Authorization.FirstOrDefault()));
        if (Down)
        {
            context.Response.StatusCode = 503;
        }
        else if (path.StartsWith("/api/models/", StringComparison.Ordinal))
        {
            await ListAsync(context, path["/api/models/".Length..]);
        }
        else if (path.StartsWith("/lfs/", StringComparison.Ordinal) && _lfs.TryGetValue(path["/lfs/".Length..], out var content))
        {
            await ServeAsync(context, _lfsNames[path["/lfs/".Length..]], content);
        }
        else if (path.IndexOf("/resolve/", StringComparison.Ordinal) is var at and > 0)
        {
            await ResolveAsync(context, path[1..at], path[(at + "/resolve/".Length)..]);
        }
        else
        {
            context.Response.StatusCode = 404;
        }
    }

    private async Task ListAsync(HttpContext context, string rest)
    {
        var at = rest.IndexOf("/revision/", StringComparison.Ordinal);
        if (!TryFind(context, rest[..at], Uri.UnescapeDataString(rest[(at + "/revision/".Length)..]), checkToken: false, out var repo))
        {
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            id = repo.Id,
            sha = repo.Commit,
            siblings = repo.Files.Keys.Order(StringComparer.Ordinal).Select(file => new { rfilename = file }),
        }));
    }

    private async Task ResolveAsync(HttpContext context, string id, string rest)
    {
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (!TryFind(context, id, Uri.UnescapeDataString(rest[..slash]), checkToken: true, out var repo))
        {
            return;
        }
        var file = Uri.UnescapeDataString(rest[(slash + 1)..]);
        var response = context.Response;
        if (!repo.Files.TryGetValue(file, out var content))
        {
            Error(response, 404, "EntryNotFound");
            return;
        }
        response.Headers["X-Repo-Commit"] = repo.Commit;
        if (IsLfs(file))
        {
            // The git pointer file's id is the ETag; the content's sha256 and size come as the linked ones.
            response.StatusCode = 302;
            response.Headers.ETag = $"\"{FakeRepo.GitSha1(Encoding.ASCII.GetBytes(repo.Etag(file)))}\"";
            response.Headers["X-Linked-Etag"] = $"\"{repo.Etag(file)}\"";
            response.Headers["X-Linked-Size"] = content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            response.Headers.Location = $"{Endpoint}/lfs/{repo.Etag(file)}";
            return;
        }
        response.Headers.ETag = $"\"{repo.Etag(file)}\"";
        await ServeAsync(context, file, content);
    }

    private bool TryFind(HttpContext context, string id, string revision, bool checkToken, out FakeRepo repo)
    {
        repo = null!;
        if (!_repos.TryGetValue(id, out var entry))
        {
            Error(context.Response, 404, "RepoNotFound");
            return false;
        }
        if (checkToken && entry.Token is { } token && context.Request.Headers.Authorization.FirstOrDefault() != $"Bearer {token}")
        {
            Error(context.Response, context.Request.Headers.Authorization.Count == 0 ? 401 : 403, "GatedRepo");
            return false;
        }
        if (revision != entry.Repo.Commit && !entry.Branches.Contains(revision))
        {
            Error(context.Response, 404, "RevisionNotFound");
            return false;
        }
        repo = entry.Repo;
        return true;
    }

    /// <summary>The content, from the requested range on, with the armed fault of <paramref name="file"/> if any.</summary>
    private async Task ServeAsync(HttpContext context, string file, byte[] content)
    {
        var response = context.Response;
        var from = 0;
        if (context.Request.Headers.Range.FirstOrDefault() is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            from = int.Parse(range["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
            if (from >= content.Length)
            {
                response.StatusCode = 416;
                response.Headers.ContentRange = $"bytes */{content.Length}";
                return;
            }
            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {from}-{content.Length - 1}/{content.Length}";
        }
        response.ContentLength = content.Length - from;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }
        var body = content.AsMemory(from);
        if (_corruptions.TryGetValue(file, out var left) && left > 0 && _corruptions.TryUpdate(file, left - 1, left))
        {
            var changed = body.ToArray();
            changed[0] ^= 0xFF;
            body = changed;
        }
        if (_cuts.TryRemove(file, out var cut))
        {
            await response.Body.WriteAsync(body[..cut]);
            await response.Body.FlushAsync();
            await Task.Delay(50);
            context.Abort();
            return;
        }
        if (_stalls.TryRemove(file, out var stall))
        {
            await response.Body.WriteAsync(body[..stall]);
            await response.Body.FlushAsync();
            await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            return;
        }
        await response.Body.WriteAsync(body);
    }

    private static void Error(HttpResponse response, int status, string code)
    {
        response.StatusCode = status;
        response.Headers["X-Error-Code"] = code;
    }
}
