using NnSight.Models;

namespace NnSight.Tests;

/// <summary>What the libraries promise about their public types.</summary>
public sealed class PublicSurfaceTests
{
    [Fact]
    public void Every_exception_the_libraries_define_derives_from_NnSightException()
    {
        var exceptions = new[] { typeof(NnSightModel).Assembly, typeof(LanguageModel).Assembly }
            .SelectMany(assembly => assembly.GetTypes())
            .Where(type => typeof(Exception).IsAssignableFrom(type))
            .ToList();

        Assert.Contains(typeof(ConfigException), exceptions);
        Assert.All(exceptions, type => Assert.True(typeof(NnSightException).IsAssignableFrom(type), $"{type.FullName} does not derive from NnSightException"));
    }
}
