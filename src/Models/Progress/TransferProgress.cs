using NnSight.Models.Hub;
using Spectre.Console;

namespace NnSight.Models.Progress;

/// <summary>
/// A byte-count progress bar (bytes, rate, time left) on standard error for a load or a download. It appears only once
/// the work has lasted <see cref="Delay"/>, so quick loads print nothing, and never when standard error is redirected,
/// when the caller turns it off, or when <c>HF_HUB_DISABLE_PROGRESS_BARS</c> is set (as in huggingface_hub). The work
/// runs on the caller's thread and only adds to a counter; the bar is drawn from a background task.
/// </summary>
internal sealed class TransferProgress : IDisposable
{
    /// <summary>How long work runs before the bar appears.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan Refresh = TimeSpan.FromMilliseconds(100);

    private readonly string _description;
    private readonly CancellationTokenSource _finished = new();
    private readonly Task _display;
    private long _total;
    private long _done;

    private TransferProgress(string description, long totalBytes, IAnsiConsole? console, TimeSpan delay)
    {
        _description = description;
        _total = totalBytes;
        _display = console is null ? Task.CompletedTask : Task.Run(() => DisplayAsync(console, delay));
    }

    /// <summary>Whether bars are shown to this process: standard error is a terminal and nobody turned them off.</summary>
    public static bool Enabled => !Console.IsErrorRedirected && !HubSettings.IsTrue(Environment.GetEnvironmentVariable("HF_HUB_DISABLE_PROGRESS_BARS"));

    /// <summary>Starts counting <paramref name="totalBytes"/> of work described by <paramref name="description"/>.</summary>
    /// <param name="description">What is moving: "Loading gpt2", "Downloading model.safetensors".</param>
    /// <param name="totalBytes">The bytes the work moves in all (more can be added with <see cref="AddTotal"/>).</param>
    /// <param name="show">The caller's choice; the bar also needs <see cref="Enabled"/>.</param>
    public static TransferProgress Start(string description, long totalBytes, bool show) =>
        new(description, totalBytes, show && Enabled ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }) : null, Delay);

    /// <summary>Starts a bar drawn on <paramref name="console"/> once <paramref name="delay"/> has passed.</summary>
    internal static TransferProgress Start(string description, long totalBytes, IAnsiConsole console, TimeSpan delay) =>
        new(description, totalBytes, console, delay);

    /// <summary>The bytes done so far.</summary>
    public long Done => Interlocked.Read(ref _done);

    /// <summary>Counts <paramref name="bytes"/> more as done; any thread may call it.</summary>
    public void Advance(long bytes) => Interlocked.Add(ref _done, bytes);

    /// <summary>Adds <paramref name="bytes"/> to the total, for work whose size is learnt as it goes.</summary>
    public void AddTotal(long bytes) => Interlocked.Add(ref _total, bytes);

    /// <summary>Stops the bar, leaving its last state on the terminal if it was shown.</summary>
    public void Dispose()
    {
        _finished.Cancel();
        _display.Wait();
        _finished.Dispose();
    }

    private async Task DisplayAsync(IAnsiConsole console, TimeSpan delay)
    {
        try
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, _finished.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(_description), maxValue: Math.Max(1, Interlocked.Read(ref _total)));
                while (!_finished.IsCancellationRequested)
                {
                    Update(task);
                    await Task.WhenAny(Task.Delay(Refresh, _finished.Token)).ConfigureAwait(false);
                }
                Update(task);
            }).ConfigureAwait(false);
    }

    private void Update(ProgressTask task)
    {
        task.MaxValue = Math.Max(1, Interlocked.Read(ref _total));
        task.Value = Math.Min(Done, task.MaxValue);
    }
}
