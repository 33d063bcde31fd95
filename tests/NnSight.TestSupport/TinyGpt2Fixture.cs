using NnSight.Models;

namespace NnSight.TestSupport;

/// <summary>The bundled tiny GPT-2, loaded once for a test class.</summary>
public sealed class TinyGpt2Fixture : IDisposable
{
    /// <summary>The loaded model.</summary>
    public LanguageModel Model { get; } = LanguageModel.FromPretrained(RepositoryPaths.TinyGpt2);

    /// <summary>Disposes the model.</summary>
    public void Dispose() => Model.Dispose();
}
