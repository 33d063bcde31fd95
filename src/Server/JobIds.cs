using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace NnSight.Server;

/// <summary>
/// Job ids. A submission carrying an <c>Idempotency-Key</c> header gets an id derived from its owner, the key and the
/// request's bytes, so a client that lost the answer can send the same request again — to this replica or to any
/// other of its set — and gets the same job instead of a second one. See docs/architecture.md#repeated-submissions.
/// </summary>
internal static partial class JobIds
{
    /// <summary>
    /// The id of a submission by <paramref name="owner"/> of <paramref name="request"/>: derived when
    /// <paramref name="key"/> is given, random otherwise. 32 lowercase hex digits either way.
    /// </summary>
    public static string For(string owner, string? key, byte[] request)
    {
        if (key is null)
        {
            return Guid.NewGuid().ToString("N");
        }
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{owner}\n{key}\n"));
        hash.AppendData(request);
        return Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, 16));
    }

    /// <summary>
    /// The <c>Idempotency-Key</c> of a request, null when absent; <paramref name="problem"/> explains a malformed one
    /// (1 to 128 characters of letters, digits, '-', '_', '.', ':').
    /// </summary>
    public static string? ReadKey(IHeaderDictionary headers, out string? problem)
    {
        problem = null;
        if (!headers.TryGetValue(RemoteProtocol.IdempotencyHeader, out var values))
        {
            return null;
        }
        if (values.Count != 1 || !KeyPattern().IsMatch(values[0] ?? ""))
        {
            problem = $"The {RemoteProtocol.IdempotencyHeader} header must be one value of 1 to 128 letters, digits, '-', '_', '.' or ':'.";
            return null;
        }
        return values[0];
    }

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    private static partial Regex KeyPattern();
}
