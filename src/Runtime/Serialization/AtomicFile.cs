namespace NnSight.Serialization;

/// <summary>
/// Writes a file so that a reader, or a crash, never sees it half written: under a temporary name in the same folder
/// (<c>.{file name}.{32 hex digits}.tmp</c>), flushed to disk, then renamed into place; the temporary file is removed
/// if anything fails.
/// </summary>
internal static class AtomicFile
{
    public static void Write(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    public static void Write(string path, Action<Stream> write)
    {
        var temporary = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
