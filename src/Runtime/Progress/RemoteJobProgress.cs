using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace NnSight;

/// <summary>
/// A remote job's status while the client waits for it. On a terminal (the settings' <c>Progress</c> is standard error,
/// progress is on and standard error is not redirected) it is one live line, a spinner with the state and how long
/// the job has been in it ("QUEUED, position 2", "RUNNING 12 s"), and the final state stays; server messages (LOG)
/// are printed above it. Elsewhere each report is written as a line to <c>RemoteSettings.Progress</c>, as before.
/// </summary>
internal sealed class RemoteJobProgress : TerminalDisplay
{
    private readonly string _job;
    private readonly TextWriter? _lines;
    private readonly IAnsiConsole? _console;
    private readonly Stopwatch _inState = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private RemoteStatus? _status;

    private RemoteJobProgress(string job, TextWriter? lines, IAnsiConsole? console, TimeSpan delay)
    {
        _job = job;
        _lines = lines;
        _console = console;
        Begin(console, delay);
    }

    /// <summary>Starts following job <paramref name="job"/>, live on a terminal or as lines on <paramref name="progress"/>.</summary>
    public static RemoteJobProgress Start(string job, TextWriter? progress)
    {
        var console = ReferenceEquals(progress, Console.Error) ? Terminal.ForProgress() : null;
        return new RemoteJobProgress(job, console is null ? progress : null, console, Delay);
    }

    /// <summary>Follows job <paramref name="job"/> live on <paramref name="console"/> once <paramref name="delay"/> has passed.</summary>
    internal static RemoteJobProgress Start(string job, IAnsiConsole console, TimeSpan delay) => new(job, null, console, delay);

    /// <summary>Takes a status report from the server.</summary>
    public void Report(RemoteStatus status)
    {
        if (_console is null)
        {
            _lines?.WriteLine($"[nnsight] {status}");
            return;
        }
        if (status.Status == RemoteJobStates.Log)
        {
            Note(status.ToString());
            return;
        }
        lock (_gate)
        {
            if (_status?.Status != status.Status)
            {
                _inState.Restart();
            }
            _status = status;
        }
    }

    /// <summary>Prints a message about the job (above the live line on a terminal).</summary>
    public void Note(string message)
    {
        if (_console is null)
        {
            _lines?.WriteLine($"[nnsight] {message}");
        }
        else
        {
            _console.MarkupLine(Markup.Escape($"[nnsight] {message}"));
        }
    }

    protected override async Task DrawAsync(IAnsiConsole console)
    {
        await console.Status().StartAsync(Markup.Escape(Describe()), async context =>
        {
            while (!Finished.IsCancellationRequested)
            {
                context.Status(Markup.Escape(Describe()));
                await NextRefreshAsync().ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
        console.MarkupLine(Markup.Escape($"[nnsight] {Describe()}"));
    }

    /// <summary>"job 3f2a: QUEUED, position 2 (4 s)", "job 3f2a: RUNNING (12 s)".</summary>
    internal string Describe()
    {
        lock (_gate)
        {
            if (_status is not { } status)
            {
                return $"job {_job}: waiting for the server";
            }
            var position = status.Position is { } place ? $", position {place}" : "";
            var seconds = RemoteJobStates.IsFinal(status.Status) ? "" : string.Create(CultureInfo.InvariantCulture, $" ({_inState.Elapsed.TotalSeconds:0} s)");
            return $"job {status.Job}: {status.Status}{position}{seconds}";
        }
    }
}
