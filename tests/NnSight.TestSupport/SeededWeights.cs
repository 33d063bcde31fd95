using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.TestSupport;

/// <summary>
/// Replaces a module's parameters with values drawn from a generator of its own, so a test's weights never depend on
/// the global random generator that tests running in parallel share.
/// </summary>
public static class SeededWeights
{
    /// <summary>Fills every parameter of <paramref name="module"/> with N(0, <paramref name="scale"/>²) from <paramref name="seed"/>.</summary>
    public static T Fill<T>(T module, long seed, double scale = 0.2) where T : nn.Module
    {
        ArgumentNullException.ThrowIfNull(module);
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var parameter in module.parameters())
        {
            using var values = randn(parameter.shape, dtype: parameter.dtype, generator: generator) * scale;
            parameter.copy_(values);
        }
        return module;
    }
}
