using System.Security.Cryptography;
using System.Text;

namespace NnSight.Server;

/// <summary>
/// The API keys as SHA-256 hashes: config.yaml lists each key itself or as <c>sha256:</c> and 64 hex digits, and a
/// presented key is hashed and compared with every configured hash in constant time. A job's owner is the hash of the
/// key that submitted it (64 hex digits), so nothing durable — the journal, Redis — ever holds a key.
/// </summary>
internal sealed class ApiKeyHashes
{
    /// <summary>How config.yaml marks a hashed key.</summary>
    public const string Prefix = "sha256:";

    private readonly byte[][] _hashes;

    /// <exception cref="FormatException">An entry is empty, or <c>sha256:</c> is not followed by 64 hex digits.</exception>
    public ApiKeyHashes(IEnumerable<string> entries)
    {
        _hashes = [.. entries.Select((entry, index) => Parse(entry, index))];
    }

    /// <summary>The keys as config.yaml can list them without the keys themselves: <c>sha256:</c> and the hash.</summary>
    public IEnumerable<string> Entries => _hashes.Select(hash => Prefix + Convert.ToHexStringLower(hash));

    /// <summary>The owner id of <paramref name="key"/>: its SHA-256 in lower-case hex.</summary>
    public static string OwnerOf(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>
    /// The owner id of <paramref name="key"/> when it is one of the configured keys, else null. Every configured hash is
    /// compared, each in constant time, so the time taken says nothing about which key matched or how much of it.
    /// </summary>
    public string? Authorize(string? key)
    {
        if (key is null)
        {
            return null;
        }
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        var found = false;
        foreach (var known in _hashes)
        {
            found |= CryptographicOperations.FixedTimeEquals(hash, known);
        }
        return found ? Convert.ToHexStringLower(hash) : null;
    }

    /// <summary>Whether two owner ids are equal, compared in constant time.</summary>
    public static bool SameOwner(string owner, string other) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(owner), Encoding.ASCII.GetBytes(other));

    private static byte[] Parse(string entry, int index)
    {
        if (string.IsNullOrWhiteSpace(entry))
        {
            throw new FormatException($"API_KEYS entry {index + 1} is empty.");
        }
        if (!entry.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return SHA256.HashData(Encoding.UTF8.GetBytes(entry));
        }
        var hex = entry[Prefix.Length..].Trim();
        if (hex.Length != 2 * SHA256.HashSizeInBytes || !hex.All(Uri.IsHexDigit))
        {
            throw new FormatException(
                $"API_KEYS entry {index + 1}: {Prefix} must be followed by the key's SHA-256 as 64 hex digits (printf %s \"$KEY\" | sha256sum).");
        }
        return Convert.FromHexString(hex);
    }
}
