using Spectre.Console;

namespace NnSight;

/// <summary>
/// A progress bar over a count that the work adds to from any thread (bytes, tokens, runs) toward a total that may grow;
/// subclasses choose the columns. See <see cref="TerminalDisplay"/> for when it shows.
/// </summary>
internal abstract class CountingDisplay(string description, long total) : TerminalDisplay
{
    private long _total = total;
    private long _done;

    /// <summary>How much is done.</summary>
    public long Done => Interlocked.Read(ref _done);

    /// <summary>Counts <paramref name="count"/> more as done.</summary>
    public void Advance(long count) => Interlocked.Add(ref _done, count);

    /// <summary>Adds <paramref name="count"/> to the total, for work whose size is learnt as it goes.</summary>
    public void AddTotal(long count) => Interlocked.Add(ref _total, count);

    /// <summary>Ends the count where it is, for work that finishes before its total (generation stopped by an end token).</summary>
    public void Finish() => Interlocked.Exchange(ref _total, Done);

    /// <summary>The bar's columns, the description first.</summary>
    protected abstract ProgressColumn[] Columns { get; }

    protected override async Task DrawAsync(IAnsiConsole console) =>
        await console.Progress()
            .AutoClear(false)
            .Columns(Columns)
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(description), maxValue: Math.Max(1, Interlocked.Read(ref _total)));
                while (!Finished.IsCancellationRequested)
                {
                    Update(task);
                    await NextRefreshAsync().ConfigureAwait(false);
                }
                Update(task);
            }).ConfigureAwait(false);

    private void Update(ProgressTask task)
    {
        task.MaxValue = Math.Max(1, Interlocked.Read(ref _total));
        task.Value = Math.Min(Done, task.MaxValue);
    }
}
