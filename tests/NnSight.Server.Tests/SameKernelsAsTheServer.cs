using System.Runtime.CompilerServices;
using NnSight.Models.Modules;

namespace NnSight.Server.Tests;

/// <summary>
/// The server chooses MKL's kernels when it creates its models, before anything else runs there (MklKernels). This
/// process must make the same choice, and the choice only takes before MKL's first call: a test that multiplied matrices
/// before any model existed would leave this process on other kernels than the server's, and the remote-equals-local
/// tests compare bit for bit. So the choice is made when the assembly loads, before any test.
/// </summary>
internal static class SameKernelsAsTheServer
{
#pragma warning disable CA2255 // A test assembly's own start, not a library's.
    [ModuleInitializer]
    internal static void Choose() => RuntimeHelpers.RunClassConstructor(typeof(CausalLanguageModel).TypeHandle);
#pragma warning restore CA2255
}
