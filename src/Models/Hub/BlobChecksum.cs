using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace NnSight.Models.Hub;

/// <summary>
/// Checks a download against the hub's etag, computed as the bytes arrive: the sha256 of the content for an LFS file
/// (a 64-digit etag), the git blob sha1 (<c>sha1("blob {size}\0" + content)</c>) for a file kept in git (40 digits).
/// An etag of another form is not a checksum; then only the size is checked.
/// </summary>
internal sealed class BlobChecksum : IDisposable
{
    private readonly IncrementalHash? _hash;
    private readonly string _etag;

    private BlobChecksum(string etag, long? size)
    {
        _etag = etag;
        _hash = etag.Length switch
        {
            64 when IsHex(etag) => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
            40 when IsHex(etag) && size is not null => IncrementalHash.CreateHash(HashAlgorithmName.SHA1),
            _ => null,
        };
        if (_hash is not null && etag.Length == 40)
        {
            _hash.AppendData(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"blob {size}\0")));
        }
    }

    /// <summary>The algorithm, for messages: <c>sha256</c> or <c>git sha1</c> (null when the etag is no checksum).</summary>
    public string? Kind => _hash is null ? null : _etag.Length == 64 ? "sha256" : "git sha1";

    /// <summary>A checksum for the content of <paramref name="etag"/>, whose size is <paramref name="size"/> when known.</summary>
    public static BlobChecksum For(string etag, long? size) => new(etag, size);

    /// <summary>Adds the next bytes of the content.</summary>
    public void Append(ReadOnlySpan<byte> bytes) => _hash?.AppendData(bytes);

    /// <summary>The digest of everything appended, or null when the etag is not a checksum. Call once.</summary>
    public string? Digest() => _hash is null ? null : Convert.ToHexStringLower(_hash.GetHashAndReset());

    /// <summary>Whether <paramref name="digest"/> (from <see cref="Digest"/>) is the etag.</summary>
    public bool Matches(string digest) => string.Equals(digest, _etag, StringComparison.OrdinalIgnoreCase);

    public void Dispose() => _hash?.Dispose();

    private static bool IsHex(string text) => text.All(Uri.IsHexDigit);
}
