using System.Text.Json;
using NnSight;
using NnSight.Models;
using NnSight.Server;

// The NnSight inference server: dotnet run --project src/Server -- --config config.yaml
var configPath = args.SkipWhile(arg => arg != "--config").Skip(1).FirstOrDefault();
if (configPath is null)
{
    Console.Error.WriteLine("usage: NnSight.Server --config config.yaml");
    return 2;
}
ServerConfig config;
try
{
    config = ServerConfig.Load(configPath);
}
catch (Exception error) when (error is InvalidDataException or IOException)
{
    Console.Error.WriteLine(error.Message);
    return 2;
}

TorchSharp.torch.set_num_threads(config.TorchThreads);
// Jobs run concurrently in the background: a generation's progress bar would draw over the server's log, and nobody
// watches it. Loading the models below still shows its byte bar.
var models = config.Models.ToDictionary(model => model.Key, model =>
{
    var loaded = LanguageModel.FromPretrained(model.Value);
    loaded.RemoteId = model.Key;
    // Served models never train: gradients are asked of activations only, and parameter grads would pile up across jobs.
    foreach (var parameter in loaded.Module.parameters())
    {
        parameter.requires_grad = false;
    }
    return loaded;
});
ProgressBars.Enabled = false;

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Limits.MaxRequestBodySize = config.Limits.MaxRequestBytes;
    kestrel.Listen(System.Net.IPAddress.Parse(config.Host), config.Port);
});
builder.Services.AddSingleton(config);
builder.Services.AddSingleton<IReadOnlyDictionary<string, LanguageModel>>(models);
builder.Services.AddSingleton<RequestParser>();
if (config.RedisEndpoint is null)
{
    // One process: the embedded queue, journaled under STATE_PATH (docs/architecture.md#the-job-journal-and-the-redis-queue).
    builder.Services.AddSingleton<ResultStore>();
    builder.Services.AddSingleton<JobStore>();
    builder.Services.AddSingleton<JobQueue>();
    builder.Services.AddHostedService(services => services.GetRequiredService<JobQueue>());
    builder.Services.AddSingleton<EmbeddedJobs>();
    builder.Services.AddSingleton<IJobBackend>(services => services.GetRequiredService<EmbeddedJobs>());
}
else
{
    // A replica of a set sharing one Redis: its streams, statuses and results.
    builder.Services.AddSingleton<RedisJobs>();
    builder.Services.AddHostedService(services => services.GetRequiredService<RedisJobs>());
    builder.Services.AddSingleton<IJobBackend>(services => services.GetRequiredService<RedisJobs>());
}
var app = builder.Build();
app.Services.GetService<EmbeddedJobs>()?.Recover(app.Services.GetRequiredService<RequestParser>(), app.Services.GetRequiredService<ILogger<EmbeddedJobs>>());
var keys = config.KeyHashes;

// Redis out of reach is the replica's state, not the request's fault: 503 naming it, and the client tries again.
app.Use(async (context, next) =>
{
    try
    {
        await next(context);
    }
    catch (QueueUnavailableException error) when (!context.Response.HasStarted)
    {
        context.Response.Headers.RetryAfter = "1";
        await Error(StatusCodes.Status503ServiceUnavailable, error.Message).ExecuteAsync(context);
    }
    catch (QueueUnavailableException)
    {
        // A status stream already under way ends; the client reconnects.
    }
});

app.MapGet("/health", () => Results.Text("ok"));

app.MapGet("/v1/models", (HttpRequest request) =>
    Authorized(request) is null ? Unauthorized() : Results.Json(new { models = models.Keys }, RemoteProtocol.Json));

app.MapPost("/v1/jobs", async (HttpRequest request, RequestParser parser, IJobBackend jobs, CancellationToken token) =>
{
    if (Authorized(request) is not { } owner)
    {
        return Unauthorized();
    }
    var key = JobIds.ReadKey(request.Headers, out var problem);
    if (problem is not null)
    {
        return Error(StatusCodes.Status400BadRequest, problem);
    }
    PreparedJob work;
    byte[] body;
    try
    {
        using (var buffer = new MemoryStream())
        {
            await request.Body.CopyToAsync(buffer, token);
            body = buffer.ToArray();
        }
        work = parser.Parse(body);
    }
    catch (RequestRejectedException error)
    {
        return Error(error.StatusCode, error.Message);
    }
    catch (BadHttpRequestException error)
    {
        return Error(error.StatusCode, error.StatusCode == StatusCodes.Status413PayloadTooLarge
            ? $"The request is larger than this server accepts ({config.Limits.MaxRequestBytes} bytes)."
            : error.Message);
    }
    var id = JobIds.For(owner, key, body);
    (work, body) = SamplingSeeds.Fix(work, body);
    try
    {
        var submission = await jobs.SubmitAsync(id, owner, work, body, CancellationToken.None);
        return Results.Json(submission.Status, RemoteProtocol.Json,
            statusCode: submission.Repeated ? StatusCodes.Status200OK : StatusCodes.Status202Accepted);
    }
    catch (QueueFullException error)
    {
        return Error(StatusCodes.Status429TooManyRequests, error.Message);
    }
});

app.MapGet("/v1/jobs/{id}", async (string id, HttpRequest request, IJobBackend jobs) =>
    await Owned(id, request, jobs) is { } job ? Results.Json(job.Current, RemoteProtocol.Json) : NotFoundOrUnauthorized(request));

app.MapGet("/v1/jobs/{id}/events", async (string id, HttpContext context, IJobBackend jobs) =>
{
    if (await Owned(id, context.Request, jobs) is null)
    {
        await NotFoundOrUnauthorized(context.Request).ExecuteAsync(context);
        return;
    }
    context.Response.ContentType = "text/event-stream";
    context.Response.Headers.CacheControl = "no-cache";
    var token = context.RequestAborted;
    await context.Response.Body.FlushAsync(token);
    await foreach (var status in jobs.FollowAsync(id, token))
    {
        await context.Response.WriteAsync($"data: {JsonSerializer.Serialize(status, RemoteProtocol.Json)}\n\n", token);
        await context.Response.Body.FlushAsync(token);
    }
});

app.MapGet("/v1/jobs/{id}/result", async (string id, HttpRequest request, IJobBackend jobs, CancellationToken token) =>
{
    if (await Owned(id, request, jobs) is not { } job)
    {
        return NotFoundOrUnauthorized(request);
    }
    return job.Current.Status switch
    {
        RemoteJobStates.Completed when await jobs.OpenResultAsync(id, token) is { } result => Results.Stream(result, "application/octet-stream", $"{id}.safetensors"),
        RemoteJobStates.Completed => Error(StatusCodes.Status410Gone, $"The result of job {id} has expired."),
        RemoteJobStates.Error => Error(StatusCodes.Status409Conflict, $"Job {id} failed: {job.Current.Message}"),
        _ => Error(StatusCodes.Status409Conflict, $"Job {id} is {job.Current.Status}; its result is not ready."),
    };
});

await app.StartAsync();
Console.WriteLine($"NnSight server listening on {string.Join(", ", app.Urls)}, serving " +
    $"{string.Join(", ", config.Models.Select(model => $"{model.Key} ({model.Value})"))}; results in {app.Services.GetRequiredService<IJobBackend>().ResultsDescription}");
await app.WaitForShutdownAsync();
return 0;

// The owner id (the hash of the bearer key) when the key is one of API_KEYS, else null.
string? Authorized(HttpRequest request)
{
    var header = request.Headers.Authorization.ToString();
    const string Bearer = "Bearer ";
    return keys.Authorize(header.StartsWith(Bearer, StringComparison.Ordinal) ? header[Bearer.Length..].Trim() : null);
}

async Task<JobView?> Owned(string id, HttpRequest request, IJobBackend jobs) =>
    Authorized(request) is { } owner && await jobs.FindAsync(id, request.HttpContext.RequestAborted) is { } job && ApiKeyHashes.SameOwner(job.Owner, owner) ? job : null;

IResult NotFoundOrUnauthorized(HttpRequest request) =>
    Authorized(request) is null ? Unauthorized() : Error(StatusCodes.Status404NotFound, "No such job for this API key (it may have expired).");

static IResult Unauthorized() => Error(StatusCodes.Status401Unauthorized, "A valid API key is required (header Authorization: Bearer YOUR_KEY).");

static IResult Error(int status, string message) => Results.Json(new { error = message }, RemoteProtocol.Json, statusCode: status);
