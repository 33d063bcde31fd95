using System.Runtime.CompilerServices;
using Spectre.Console;

namespace NnSight;

/// <summary>
/// The console progress is drawn on: standard error, when it is a terminal and progress is on. One display at a time
/// per console: a display that would start while another is shown (a generation inside a tracked sweep) stays hidden,
/// so two never draw over each other.
/// </summary>
internal static class Terminal
{
    private static readonly Lazy<IAnsiConsole> StandardError = new(() =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }));

    private static readonly ConditionalWeakTable<IAnsiConsole, object> Shown = [];

    /// <summary>Whether progress can be shown to this process: it is on and standard error is a terminal.</summary>
    public static bool CanShow => ProgressBars.Enabled && !Console.IsErrorRedirected;

    /// <summary>Standard error's console when <paramref name="show"/> and <see cref="CanShow"/>; otherwise null.</summary>
    public static IAnsiConsole? ForProgress(bool show = true) => show && CanShow ? StandardError.Value : null;

    /// <summary>Takes <paramref name="console"/> for one display; false while another display holds it.</summary>
    public static bool TryClaim(IAnsiConsole console) => Shown.TryAdd(console, console);

    /// <summary>Gives <paramref name="console"/> back after a display.</summary>
    public static void Release(IAnsiConsole console) => Shown.Remove(console);
}
