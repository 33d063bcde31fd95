namespace NnSight;

/// <summary>
/// A <c>.safetensors</c> file is malformed: a bad header length, a header that is not the expected JSON, an unknown
/// dtype, offsets outside the data, overlapping tensors, or a truncated file. The message names the file and tensor.
/// </summary>
public sealed class SafetensorsFormatException : NnSightException
{
    /// <summary>Creates the exception for the file at <paramref name="path"/>.</summary>
    public SafetensorsFormatException(string path, string problem, Exception? innerException = null)
        : base($"{path}: {problem}", innerException)
    {
        FilePath = path;
    }

    /// <summary>The file that failed to parse.</summary>
    public string FilePath { get; }
}
