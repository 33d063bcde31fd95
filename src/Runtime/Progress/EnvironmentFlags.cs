namespace NnSight;

/// <summary>How environment variables that switch something on are read.</summary>
internal static class EnvironmentFlags
{
    /// <summary>huggingface_hub's truth values: 1, ON, YES, TRUE in any case.</summary>
    public static bool IsTrue(string? value) =>
        value is not null && value.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";
}
