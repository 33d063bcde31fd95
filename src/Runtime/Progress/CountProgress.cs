using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace NnSight;

/// <summary>
/// A progress bar that counts things done (tokens generated, runs of a sweep): the count, the rate per second and the
/// time left. The work only adds to a counter, from any thread; see <see cref="TerminalDisplay"/> for when it shows.
/// </summary>
internal sealed class CountProgress : TerminalDisplay
{
    private readonly string _description;
    private readonly string _unit;
    private long _total;
    private long _done;

    private CountProgress(string description, long total, string unit, IAnsiConsole? console, TimeSpan delay)
    {
        _description = description;
        _total = total;
        _unit = unit;
        Begin(console, delay);
    }

    /// <summary>Starts counting toward <paramref name="total"/> on standard error when progress can be shown.</summary>
    /// <param name="description">What is counted: "Generating", "Patching layers".</param>
    /// <param name="total">How many there will be.</param>
    /// <param name="unit">The unit's name ("tokens"), or empty for plain numbers.</param>
    /// <param name="show">The caller's choice; the bar also needs <see cref="Terminal.CanShow"/>.</param>
    public static CountProgress Start(string description, long total, string unit, bool show = true) =>
        new(description, total, unit, Terminal.ForProgress(show), Delay);

    /// <summary>Starts a bar drawn on <paramref name="console"/> once <paramref name="delay"/> has passed.</summary>
    internal static CountProgress Start(string description, long total, string unit, IAnsiConsole console, TimeSpan delay) =>
        new(description, total, unit, console, delay);

    /// <summary>How many are done.</summary>
    public long Done => Interlocked.Read(ref _done);

    /// <summary>Counts <paramref name="count"/> more as done.</summary>
    public void Advance(long count) => Interlocked.Add(ref _done, count);

    /// <summary>Ends the count where it is, for work that finishes before its total (generation stopped by an end token).</summary>
    public void Finish() => Interlocked.Exchange(ref _total, Done);

    protected override async Task DrawAsync(IAnsiConsole console) =>
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new CountColumn(_unit), new RateColumn(_unit),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(_description), maxValue: Math.Max(1, Interlocked.Read(ref _total)));
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

    /// <summary>"12/20 tokens".</summary>
    private sealed class CountColumn(string unit) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(string.Create(CultureInfo.InvariantCulture, $"{task.Value:0}/{task.MaxValue:0}{(unit.Length > 0 ? " " + unit : "")}"));
    }

    /// <summary>"35.2 tokens/s": the count so far over the time so far.</summary>
    private sealed class RateColumn(string unit) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.ElapsedTime is { TotalSeconds: > 0 } elapsed
                ? string.Create(CultureInfo.InvariantCulture, $"{task.Value / elapsed.TotalSeconds:0.0} {unit}/s").Replace(" /s", "/s", StringComparison.Ordinal)
                : "", new Style(Color.Grey));
    }
}
