namespace NnSight.Models.Hub;

/// <summary>The hub did not answer (no connection, a timeout, a broken transfer); the resolver then looks in the cache
/// and turns it into a <see cref="HubException"/> that says what the cache holds.</summary>
internal sealed class HubUnreachableException(string message, Exception? innerException = null) : NnSightException(message, innerException);
