namespace NnSight;

/// <summary>
/// A model could not be had from the HuggingFace hub or its cache: the repository or revision does not exist, it is
/// gated or private and the token does not reach it, it has no safetensors weights, the hub cannot be reached and the
/// cache lacks it (or offline mode is on), a download stayed corrupt, or the disk is full. The message names the
/// repository, the endpoint or cache folder, and what to do.
/// </summary>
public sealed class HubException : NnSightException
{
    /// <summary>Creates the exception.</summary>
    public HubException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}
