using Spectre.Console;

namespace NnSight;

/// <summary>
/// A live display on a console for work that runs on the caller's thread: it is drawn from a background task, appears
/// only once the work has lasted a delay (quick work prints nothing), and is finished by <see cref="Dispose"/>, which
/// leaves its last state on the terminal. A failure to draw never fails the work.
/// </summary>
internal abstract class TerminalDisplay : IDisposable
{
    /// <summary>How long work runs before its display appears.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    /// <summary>How often a shown display is redrawn.</summary>
    protected static readonly TimeSpan Refresh = TimeSpan.FromMilliseconds(100);

    private readonly CancellationTokenSource _finished = new();
    private Task _display = Task.CompletedTask;

    /// <summary>Cancelled when the work is done.</summary>
    protected CancellationToken Finished => _finished.Token;

    /// <summary>Ends the display, leaving its last state shown.</summary>
    public void Dispose()
    {
        _finished.Cancel();
        _display.Wait();
        _finished.Dispose();
    }

    /// <summary>Starts drawing on <paramref name="console"/> (nothing when null) once <paramref name="delay"/> has passed;
    /// called by the subclass once its own state is set.</summary>
    protected void Begin(IAnsiConsole? console, TimeSpan delay)
    {
        if (console is not null)
        {
            _display = Task.Run(() => RunAsync(console, delay));
        }
    }

    /// <summary>Draws until <see cref="Finished"/>, then draws the final state once more.</summary>
    protected abstract Task DrawAsync(IAnsiConsole console);

    /// <summary>Waits one refresh period, or less when the work finishes.</summary>
    protected Task NextRefreshAsync() => Task.WhenAny(Task.Delay(Refresh, Finished));

    private async Task RunAsync(IAnsiConsole console, TimeSpan delay)
    {
        try
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, Finished).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (!Terminal.TryClaim(console))
        {
            return;
        }
        try
        {
            await DrawAsync(console).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A terminal that cannot be drawn on (closed, detached) must not fail the load, generation or job it reports on.
        }
        finally
        {
            Terminal.Release(console);
        }
    }
}
