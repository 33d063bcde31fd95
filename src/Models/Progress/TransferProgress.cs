using Spectre.Console;

namespace NnSight.Models.Progress;

/// <summary>
/// A byte-count progress bar (bytes, rate, time left) on standard error for a load or a download. It shows as every
/// progress display does (<see cref="TerminalDisplay"/>: after a second, not when standard error is redirected, not
/// with <see cref="ProgressBars.Enabled"/> off), and also not when the caller turns it off or when
/// <c>HF_HUB_DISABLE_PROGRESS_BARS</c> is set (as in huggingface_hub). The work runs on the caller's thread and only
/// adds to a counter.
/// </summary>
internal sealed class TransferProgress : CountingDisplay
{
    private TransferProgress(string description, long totalBytes, IAnsiConsole? console, TimeSpan delay)
        : base(description, totalBytes)
    {
        Begin(console, delay);
    }

    /// <summary>Starts counting <paramref name="totalBytes"/> of work described by <paramref name="description"/>.</summary>
    /// <param name="description">What is moving: "Loading gpt2", "Downloading model.safetensors".</param>
    /// <param name="totalBytes">The bytes the work moves in all (more can be added with <see cref="CountingDisplay.AddTotal"/>).</param>
    /// <param name="show">The caller's choice; the bar also needs a terminal and huggingface_hub's
    /// <c>HF_HUB_DISABLE_PROGRESS_BARS</c> unset.</param>
    public static TransferProgress Start(string description, long totalBytes, bool show) =>
        new(description, totalBytes, Terminal.ForProgress(show && !EnvironmentFlags.IsTrue(Environment.GetEnvironmentVariable("HF_HUB_DISABLE_PROGRESS_BARS"))), Delay);

    /// <summary>Starts a bar drawn on <paramref name="console"/> once <paramref name="delay"/> has passed.</summary>
    internal static TransferProgress Start(string description, long totalBytes, IAnsiConsole console, TimeSpan delay) =>
        new(description, totalBytes, console, delay);

    protected override ProgressColumn[] Columns =>
        [new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn()];
}
