using NnSight.Models.Progress;
using Spectre.Console.Testing;

namespace NnSight.Models.Tests;

/// <summary>The load and download progress bar: bytes, percentage and rate, shown only for work that lasts.</summary>
public sealed class TransferProgressTests
{
    [Fact]
    public void A_bar_counts_the_bytes_from_every_thread_and_ends_at_its_total()
    {
        var console = new TestConsole().Interactive().Width(120);
        using (var progress = TransferProgress.Start("Loading test-model", 1 << 20, console, TimeSpan.Zero))
        {
            Parallel.For(0, 16, _ => progress.Advance(1 << 16));
            Assert.Equal(1 << 20, progress.Done);
        }

        var output = console.Output;
        Assert.Contains("Loading test-model", output, StringComparison.Ordinal);
        Assert.Contains("100%", output, StringComparison.Ordinal);
        Assert.Contains("1.0 MiB", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Work_that_ends_before_the_delay_prints_nothing()
    {
        var console = new TestConsole().Interactive();
        using (var progress = TransferProgress.Start("Loading quick-model", 100, console, TimeSpan.FromMinutes(1)))
        {
            progress.Advance(100);
        }

        Assert.Equal("", console.Output);
    }

    [Fact]
    public void A_total_learnt_as_the_work_goes_is_added()
    {
        var console = new TestConsole().Interactive().Width(120);
        using (var progress = TransferProgress.Start("Downloading", 0, console, TimeSpan.Zero))
        {
            progress.AddTotal(2048);
            progress.Advance(1024);
            progress.AddTotal(2048);
            progress.Advance(3072);
        }

        Assert.Contains("100% 4.0 KiB", console.Output, StringComparison.Ordinal);
    }
}
