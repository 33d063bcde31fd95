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
builder.Services.AddSingleton<ResultStore>();
builder.Services.AddSingleton<JobStore>();
builder.Services.AddSingleton<RequestParser>();
builder.Services.AddSingleton<JobQueue>();
builder.Services.AddHostedService(services => services.GetRequiredService<JobQueue>());
var app = builder.Build();

app.MapGet("/health", () => Results.Text("ok"));

app.MapGet("/v1/models", (HttpRequest request) =>
    Authorized(request, config) is null ? Unauthorized() : Results.Json(new { models = models.Keys }, RemoteProtocol.Json));

app.MapPost("/v1/jobs", async (HttpRequest request, RequestParser parser, JobStore jobs, JobQueue queue, CancellationToken token) =>
{
    if (Authorized(request, config) is not { } key)
    {
        return Unauthorized();
    }
    PreparedJob work;
    try
    {
        work = await parser.ParseAsync(request.Body, token);
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
    var job = jobs.Add(key, work);
    if (!queue.TryEnqueue(job))
    {
        return Error(StatusCodes.Status429TooManyRequests, $"The queue is full ({config.Limits.QueueLength} jobs); try again later.");
    }
    return Results.Json(job.Current, RemoteProtocol.Json, statusCode: StatusCodes.Status202Accepted);
});

app.MapGet("/v1/jobs/{id}", (string id, HttpRequest request, JobStore jobs) =>
    Owned(id, request, jobs) is { } job ? Results.Json(job.Current, RemoteProtocol.Json) : NotFoundOrUnauthorized(request));

app.MapGet("/v1/jobs/{id}/events", async (string id, HttpContext context, JobStore jobs) =>
{
    if (Owned(id, context.Request, jobs) is not { } job)
    {
        await NotFoundOrUnauthorized(context.Request).ExecuteAsync(context);
        return;
    }
    context.Response.ContentType = "text/event-stream";
    context.Response.Headers.CacheControl = "no-cache";
    var sent = 0;
    var token = context.RequestAborted;
    while (!token.IsCancellationRequested)
    {
        var (history, changed) = job.Snapshot();
        for (; sent < history.Count; sent++)
        {
            await context.Response.WriteAsync($"data: {JsonSerializer.Serialize(history[sent], RemoteProtocol.Json)}\n\n", token);
        }
        await context.Response.Body.FlushAsync(token);
        if (RemoteJobStates.IsFinal(history[^1].Status))
        {
            return;
        }
        await changed.WaitAsync(TimeSpan.FromSeconds(15), token).ContinueWith(_ => { }, TaskScheduler.Default);
    }
});

app.MapGet("/v1/jobs/{id}/result", (string id, HttpRequest request, JobStore jobs) =>
{
    if (Owned(id, request, jobs) is not { } job)
    {
        return NotFoundOrUnauthorized(request);
    }
    return job.Current.Status switch
    {
        RemoteJobStates.Completed when job.ResultPath is { } path && File.Exists(path) => Results.File(path, "application/octet-stream", $"{id}.safetensors"),
        RemoteJobStates.Completed => Error(StatusCodes.Status410Gone, $"The result of job {id} has expired."),
        RemoteJobStates.Error => Error(StatusCodes.Status409Conflict, $"Job {id} failed: {job.Current.Message}"),
        _ => Error(StatusCodes.Status409Conflict, $"Job {id} is {job.Current.Status}; its result is not ready."),
    };
});

await app.StartAsync();
Console.WriteLine($"NnSight server listening on {string.Join(", ", app.Urls)}, serving " +
    $"{string.Join(", ", config.Models.Select(model => $"{model.Key} ({model.Value})"))}; results in {config.ResponsePath}");
await app.WaitForShutdownAsync();
return 0;

static string? Authorized(HttpRequest request, ServerConfig config)
{
    var header = request.Headers.Authorization.ToString();
    const string Bearer = "Bearer ";
    var key = header.StartsWith(Bearer, StringComparison.Ordinal) ? header[Bearer.Length..].Trim() : null;
    return key is not null && config.ApiKeys.Contains(key) ? key : null;
}

Job? Owned(string id, HttpRequest request, JobStore jobs) =>
    Authorized(request, config) is { } key && jobs.Find(id) is { } job && job.ApiKey == key ? job : null;

IResult NotFoundOrUnauthorized(HttpRequest request) =>
    Authorized(request, config) is null ? Unauthorized() : Error(StatusCodes.Status404NotFound, "No such job for this API key (it may have expired).");

static IResult Unauthorized() => Error(StatusCodes.Status401Unauthorized, "A valid API key is required (header Authorization: Bearer YOUR_KEY).");

static IResult Error(int status, string message) => Results.Json(new { error = message }, RemoteProtocol.Json, statusCode: status);
