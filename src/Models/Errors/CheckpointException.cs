namespace NnSight;

/// <summary>
/// A checkpoint's tensors do not fit the model: a tensor is missing, unexpected, or has another shape. The message
/// names every such tensor with both shapes; nothing of the checkpoint has been loaded when it is thrown.
/// </summary>
public sealed class CheckpointException : NnSightException
{
    /// <summary>Creates the exception with the full list of problems in <paramref name="message"/>.</summary>
    public CheckpointException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}
