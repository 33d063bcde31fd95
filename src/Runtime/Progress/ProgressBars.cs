namespace NnSight;

/// <summary>
/// The progress shown on standard error while long work runs: loading and downloading (bytes), generation (tokens and
/// tokens per second), remote jobs (queue position, running time) and loops wrapped in <see cref="Track{T}"/> (a
/// patching sweep). A display appears only once the work has lasted a second, never on standard output (which holds
/// results), never when standard error is redirected, and not at all when <see cref="Enabled"/> is false.
/// </summary>
public static class ProgressBars
{
    /// <summary>The environment variable that turns every display off when true (1, ON, YES, TRUE).</summary>
    public const string DisableVariable = "NNSIGHT_DISABLE_PROGRESS_BARS";

    /// <summary>
    /// Whether this process shows progress at all (default: on, unless <c>NNSIGHT_DISABLE_PROGRESS_BARS</c> is true).
    /// Like transformers' <c>disable_progress_bar()</c>, it is one switch for the whole process.
    /// </summary>
    public static bool Enabled { get; set; } = !EnvironmentFlags.IsTrue(Environment.GetEnvironmentVariable(DisableVariable));

    /// <summary>
    /// Yields <paramref name="items"/> while counting them on a progress bar (count, rate, time left), as tqdm wraps a
    /// loop: <c>foreach (var layer in ProgressBars.Track(Enumerable.Range(0, 12), "Patching layers"))</c>. A sequence
    /// whose length is not known without enumerating it is read into a list first.
    /// </summary>
    /// <param name="items">The loop's items.</param>
    /// <param name="description">What the loop does, shown before the bar.</param>
    public static IEnumerable<T> Track<T>(IEnumerable<T> items, string description)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(description);
        var known = items.TryGetNonEnumeratedCount(out _) ? items : items.ToList();
        return Tracked(known, description);
    }

    private static IEnumerable<T> Tracked<T>(IEnumerable<T> items, string description)
    {
        using var progress = CountProgress.Start(description, items.Count(), unit: "");
        foreach (var item in items)
        {
            yield return item;
            progress.Advance(1);
        }
    }
}
