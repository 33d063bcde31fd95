using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace NnSight;

/// <summary>
/// A progress bar that counts things done (tokens generated, runs of a sweep): the count, the rate per second and the
/// time left. The work only adds to a counter, from any thread; see <see cref="TerminalDisplay"/> for when it shows.
/// </summary>
internal sealed class CountProgress : CountingDisplay
{
    private readonly string _unit;

    private CountProgress(string description, long total, string unit, IAnsiConsole? console, TimeSpan delay)
        : base(description, total)
    {
        _unit = unit;
        Begin(console, delay);
    }

    /// <summary>Starts counting toward <paramref name="total"/> on standard error when progress can be shown.</summary>
    /// <param name="description">What is counted: "Generating", "Patching layers".</param>
    /// <param name="total">How many there will be.</param>
    /// <param name="unit">The unit's name ("tokens"), or empty for plain numbers.</param>
    public static CountProgress Start(string description, long total, string unit) =>
        new(description, total, unit, Terminal.ForProgress(), Delay);

    /// <summary>Starts a bar drawn on <paramref name="console"/> once <paramref name="delay"/> has passed.</summary>
    internal static CountProgress Start(string description, long total, string unit, IAnsiConsole console, TimeSpan delay) =>
        new(description, total, unit, console, delay);

    protected override ProgressColumn[] Columns =>
        [new TaskDescriptionColumn(), new ProgressBarColumn(), new CountColumn(_unit), new RateColumn(_unit), new ElapsedTimeColumn(), new RemainingTimeColumn()];

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
                ? string.Create(CultureInfo.InvariantCulture, $"{task.Value / elapsed.TotalSeconds:0.0}{(unit.Length > 0 ? " " + unit : "")}/s")
                : "", new Style(Color.Grey));
    }
}
