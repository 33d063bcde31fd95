using System.Reflection;
using static TorchSharp.torch;

namespace NnSight;

/// <summary>
/// Checks that TorchSharp has a native libtorch backend before NnSight first uses it. Without one, TorchSharp's type
/// initializer fails with a message that does not say which package is missing; this names it.
/// </summary>
internal static class TorchBackend
{
    private static readonly string LibTorchVersion = typeof(TorchBackend).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(attribute => attribute.Key == "LibTorchVersion").Value!;

    /// <exception cref="LibTorchNotFoundException">No libtorch backend could be loaded.</exception>
    public static void Require()
    {
        try
        {
            _ = get_num_threads();
        }
        catch (TypeInitializationException error) when (error.TypeName == typeof(TorchSharp.torch).FullName)
        {
            throw new LibTorchNotFoundException(
                $"TorchSharp found no libtorch backend. Add the backend package for your platform to the application, version {LibTorchVersion}: " +
                "libtorch-cpu-linux-x64, libtorch-cpu-win-x64 or libtorch-cpu-osx-arm64, or a CUDA build such as libtorch-cuda-12.8-linux-x64. " +
                $"TorchSharp said: {error.InnerException?.Message ?? error.Message}", error);
        }
    }
}
