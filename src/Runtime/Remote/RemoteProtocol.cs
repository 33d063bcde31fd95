using System.Text.Json;
using System.Text.Json.Serialization;

namespace NnSight;

/// <summary>
/// The wire protocol between a client and an NnSight server. A job (one trace, or a session's traces) is submitted as
/// <see cref="RemoteJobRequest"/> JSON, its status is followed as server-sent events of <see cref="RemoteStatus"/>, and
/// its result is a safetensors file holding each trace's <c>trace.{t}.output</c> and saved values <c>trace.{t}.node.{id}</c>.
/// </summary>
internal static class RemoteProtocol
{
    /// <summary>
    /// The protocol version this runtime speaks; a server refuses any other, naming both. Version 2 sends a list of
    /// traces (sessions); version 1 sent one.
    /// </summary>
    public const int Version = 2;

    /// <summary>
    /// The header a submission carries, the same on every attempt, so that the server answers a repeat with the job it
    /// already has (200) instead of queueing a second one (202).
    /// </summary>
    public const string IdempotencyHeader = "Idempotency-Key";

    /// <summary>The safetensors name of a trace's primary output (logits or token ids).</summary>
    public static string OutputTensor(int trace) => FormattableString.Invariant($"trace.{trace}.output");

    /// <summary>The safetensors name of a saved value.</summary>
    public static string SavedTensor(int trace, int nodeId) => FormattableString.Invariant($"trace.{trace}.node.{nodeId}");

    /// <summary>JSON settings both sides use (camelCase, enums as strings).</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        MaxDepth = 64,
    };
}

/// <summary>A job: which model, and the traces to run on it in order (one, or a session's).</summary>
/// <param name="Protocol">The client's protocol version.</param>
/// <param name="Model">The id of a model the server serves.</param>
/// <param name="Traces">The traces, in order; a trace reads kept values of earlier ones by <c>session_value</c> nodes.</param>
internal sealed record RemoteJobRequest(int Protocol, string Model, IReadOnlyList<RemoteTrace> Traces);

/// <summary>One trace of a job.</summary>
/// <param name="Invocations">Each invocation's token rows (ids and masks), in order.</param>
/// <param name="Generation">Generation options, or null for one forward pass.</param>
/// <param name="Graph">The graph in its JSON form (<see cref="Intervention.GraphSerializer"/>).</param>
internal sealed record RemoteTrace(IReadOnlyList<IReadOnlyList<TokenRow>> Invocations, GenerationOptions? Generation, JsonElement Graph);

/// <summary>The states a job reports.</summary>
public static class RemoteJobStates
{
    /// <summary>The server accepted the request.</summary>
    public const string Received = "RECEIVED";

    /// <summary>Waiting for a worker; <see cref="RemoteStatus.Position"/> says how many jobs are ahead.</summary>
    public const string Queued = "QUEUED";

    /// <summary>The model is running the graph.</summary>
    public const string Running = "RUNNING";

    /// <summary>The result can be downloaded.</summary>
    public const string Completed = "COMPLETED";

    /// <summary>The job failed; <see cref="RemoteStatus.Message"/> says why.</summary>
    public const string Error = "ERROR";

    /// <summary>A message from the server about the job.</summary>
    public const string Log = "LOG";

    /// <summary>Whether no further status follows <paramref name="state"/>.</summary>
    public static bool IsFinal(string state) => state is Completed or Error;
}

/// <summary>One status report of a job.</summary>
/// <param name="Job">The job id.</param>
/// <param name="Status">One of <see cref="RemoteJobStates"/>.</param>
/// <param name="Position">For QUEUED: the position in the queue (1 is next).</param>
/// <param name="Message">For ERROR and LOG: the text.</param>
public sealed record RemoteStatus(string Job, string Status, int? Position = null, string? Message = null)
{
    /// <summary><c>job 3f2a: QUEUED (position 2)</c>.</summary>
    public override string ToString() =>
        $"job {Job}: {Status}" + (Position is { } position ? $" (position {position})" : "") + (Message is { } message ? $": {message}" : "");
}

/// <summary>The server refused a request or a job failed; the message is the server's.</summary>
public sealed class RemoteException(string message, int? statusCode = null) : NnSightException(message)
{
    /// <summary>The HTTP status code, when the server answered with an error.</summary>
    public int? StatusCode { get; } = statusCode;
}
