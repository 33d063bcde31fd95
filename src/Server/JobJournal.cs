using System.Text.Json;
using System.Text.RegularExpressions;
using NnSight.Serialization;

namespace NnSight.Server;

/// <summary>A job as the journal keeps it: who submitted it (the key's hash), what it runs on, and how far it got.</summary>
/// <param name="Id">The job id (32 hex digits).</param>
/// <param name="Owner">The SHA-256 of the key that submitted it (see <see cref="ApiKeyHashes"/>).</param>
/// <param name="Model">The served model's id.</param>
/// <param name="Received">When the server accepted it.</param>
/// <param name="State">QUEUED, RUNNING, COMPLETED or ERROR.</param>
/// <param name="Attempts">How many times it was started.</param>
/// <param name="Message">For ERROR: why.</param>
/// <param name="Finished">When it reached COMPLETED or ERROR.</param>
internal sealed record JournalRecord(
    string Id, string Owner, string Model, DateTimeOffset Received, string State, int Attempts = 0, string? Message = null, DateTimeOffset? Finished = null);

/// <summary>
/// The embedded queue's journal under STATE_PATH: per job, <c>{id}.request</c> (the validated request as submitted,
/// written once and deleted when the job ends) and <c>{id}.job</c> (its <see cref="JournalRecord"/>, replaced at
/// every change of state). Every file is written to a temporary name, flushed to disk and renamed into place, so a
/// crash leaves the old version or the new one, never a partial file. The server answers 202 only after a job's
/// request and record are on disk, and reports RUNNING, COMPLETED or ERROR only after the record says so; see
/// docs/architecture.md#the-job-journal-and-the-redis-queue.
/// </summary>
internal sealed partial class JobJournal
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public JobJournal(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
    }

    /// <summary>The journal's folder.</summary>
    public string Directory { get; }

    /// <summary>Writes a newly accepted job: its request first, then its record, so a record always has its request.</summary>
    public void Accept(JournalRecord record, byte[] request)
    {
        AtomicFile.Write(RequestPath(record.Id), request);
        Write(record);
    }

    /// <summary>Replaces the job's record; a final one also deletes its request, which is no longer needed.</summary>
    public void Write(JournalRecord record)
    {
        AtomicFile.Write(RecordPath(record.Id), JsonSerializer.SerializeToUtf8Bytes(record, Json));
        if (RemoteJobStates.IsFinal(record.State))
        {
            File.Delete(RequestPath(record.Id));
        }
    }

    /// <summary>The request of an unfinished job, as it was accepted.</summary>
    public byte[] ReadRequest(string id) => File.ReadAllBytes(RequestPath(id));

    /// <summary>Deletes everything the journal holds of job <paramref name="id"/>.</summary>
    public void Forget(string id)
    {
        File.Delete(RecordPath(id));
        File.Delete(RequestPath(id));
    }

    /// <summary>
    /// Reads the journal at start: the records, oldest first. Temporary files of an interrupted write and requests
    /// without a record (the job was never acknowledged) are deleted; a record that cannot be read is reported through
    /// <paramref name="unreadable"/> and left where it is for the operator.
    /// </summary>
    public IReadOnlyList<JournalRecord> Recover(Action<string, Exception> unreadable)
    {
        var records = new List<JournalRecord>();
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory))
        {
            var name = Path.GetFileName(file);
            if (TemporaryFile().IsMatch(name))
            {
                File.Delete(file);
            }
            else if (OwnFile().Match(name) is { Success: true } match && match.Groups[2].Value == "job")
            {
                try
                {
                    var record = JsonSerializer.Deserialize<JournalRecord>(File.ReadAllBytes(file), Json);
                    if (record?.Id != match.Groups[1].Value)
                    {
                        throw new InvalidDataException($"{file} does not hold the record of job {match.Groups[1].Value}.");
                    }
                    records.Add(record);
                }
                catch (Exception error) when (error is JsonException or InvalidDataException or IOException)
                {
                    unreadable(file, error);
                }
            }
        }
        var known = records.Select(record => record.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "*.request"))
        {
            if (OwnFile().Match(Path.GetFileName(file)) is { Success: true } match && !known.Contains(match.Groups[1].Value)
                && !File.Exists(RecordPath(match.Groups[1].Value)))
            {
                File.Delete(file);
            }
        }
        return [.. records.OrderBy(record => record.Received).ThenBy(record => record.Id, StringComparer.Ordinal)];
    }

    private string RecordPath(string id) => Path.Combine(Directory, id + ".job");

    private string RequestPath(string id) => Path.Combine(Directory, id + ".request");

    /// <summary>A job's record or request (the job id is a Guid's 32 hex digits).</summary>
    [GeneratedRegex(@"^([0-9a-f]{32})\.(job|request)$", RegexOptions.CultureInvariant)]
    private static partial Regex OwnFile();

    /// <summary>The temporary file of an interrupted write of a record or request.</summary>
    [GeneratedRegex(@"^\.[0-9a-f]{32}\.(job|request)\.[0-9a-f]{32}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex TemporaryFile();
}
