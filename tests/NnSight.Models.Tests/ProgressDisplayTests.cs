using NnSight.Models.Generation;
using NnSight.TestSupport;
using Spectre.Console.Testing;

namespace NnSight.Models.Tests;

/// <summary>
/// Progress beyond loading: generation counts tokens and their rate, a remote job shows its queue position and state,
/// a tracked loop counts its runs, and two displays never draw on one console at once. Each display is drawn on a test
/// console; the process's own standard error is never touched.
/// </summary>
public sealed class ProgressDisplayTests(TinyGpt2Fixture tiny) : IClassFixture<TinyGpt2Fixture>
{
    [Fact]
    public void Generation_counts_one_token_per_row_and_step_and_shows_the_rate()
    {
        var console = new TestConsole().Interactive().Width(140);
        var options = new GenerationOptions { MaxNewTokens = 3, EosTokenId = -1 };
        using (var batch = tiny.Model.Tokenize(["The Eiffel Tower is in the city of", "When John and Mary went to"]))
        using (var progress = CountProgress.Start("Generating", 3 * 2, "tokens", console, TimeSpan.Zero))
        {
            using var result = new GenerationLoop(tiny.Model.Module, options, tiny.Model.Generation, logitsToKeep: 1).Run(batch, progress, CancellationToken.None);
            Assert.Equal(6, progress.Done);
        }

        Assert.Contains("Generating", console.Output, StringComparison.Ordinal);
        Assert.Contains("6/6 tokens", console.Output, StringComparison.Ordinal);
        Assert.Contains(" tokens/s", console.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_generation_that_ends_early_ends_its_bar_at_the_tokens_it_made()
    {
        var console = new TestConsole().Interactive().Width(140);
        using (var progress = CountProgress.Start("Generating", 20, "tokens", console, TimeSpan.Zero))
        {
            progress.Advance(4);
            progress.Finish();
        }

        Assert.Contains("4/4 tokens", console.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_remote_job_shows_its_queue_position_then_its_state_and_ends_on_its_final_state()
    {
        var console = new TestConsole().Interactive().Width(140);
        using (var progress = RemoteJobProgress.Start("3f2a", console, TimeSpan.Zero))
        {
            Assert.Equal("job 3f2a: waiting for the server", progress.Describe());
            progress.Report(new RemoteStatus("3f2a", RemoteJobStates.Queued, Position: 2));
            Assert.Matches(@"^job 3f2a: QUEUED, position 2 \(\d+ s\)$", progress.Describe());
            progress.Report(new RemoteStatus("3f2a", RemoteJobStates.Running));
            Assert.Matches(@"^job 3f2a: RUNNING \(\d+ s\)$", progress.Describe());
            progress.Report(new RemoteStatus("3f2a", RemoteJobStates.Log, Message: "loading weights"));
            progress.Report(new RemoteStatus("3f2a", RemoteJobStates.Completed));
        }

        Assert.Contains("[nnsight] job 3f2a: LOG: loading weights", console.Output, StringComparison.Ordinal);
        Assert.EndsWith("[nnsight] job 3f2a: COMPLETED", console.Output.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_remote_job_reporting_to_a_writer_writes_one_line_per_status()
    {
        using var writer = new StringWriter();
        using (var progress = RemoteJobProgress.Start("3f2a", writer))
        {
            progress.Report(new RemoteStatus("3f2a", RemoteJobStates.Queued, Position: 1));
            progress.Report(new RemoteStatus("3f2a", RemoteJobStates.Completed));
        }

        Assert.Equal(["[nnsight] job 3f2a: QUEUED (position 1)", "[nnsight] job 3f2a: COMPLETED"],
            writer.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void A_sweep_counts_its_runs()
    {
        var console = new TestConsole().Interactive().Width(140);
        using (var progress = CountProgress.Start("Patching layers", 12, "", console, TimeSpan.Zero))
        {
            for (var layer = 0; layer < 12; layer++)
            {
                progress.Advance(1);
            }
        }

        Assert.Contains("Patching layers", console.Output, StringComparison.Ordinal);
        Assert.Contains("12/12 ", console.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Tracking_a_loop_yields_every_item_in_order_also_from_a_lazy_sequence()
    {
        var lazy = Enumerable.Range(0, 5).Where(item => item % 2 == 0);

        Assert.Equal([0, 2, 4], ProgressBars.Track(lazy, "Sweep").ToList());
        Assert.Equal([0, 1, 2], ProgressBars.Track(new[] { 0, 1, 2 }, "Sweep").ToList());
    }

    [Fact]
    public void A_console_holds_one_display_at_a_time()
    {
        var console = new TestConsole();

        Assert.True(Terminal.TryClaim(console));
        Assert.False(Terminal.TryClaim(console));
        Terminal.Release(console);
        Assert.True(Terminal.TryClaim(console));
        Terminal.Release(console);
    }
}
