using NnSight.Models;

namespace NnSight.TestSupport;

/// <summary>The bundled tiny Llama and its variant with attention biases, loaded once for a test class.</summary>
public sealed class TinyLlamaFixture : IDisposable
{
    /// <summary>tiny-llama: grouped-query attention, no biases, untied head.</summary>
    public LanguageModel Plain { get; } = LanguageModel.FromPretrained(RepositoryPaths.TinyLlama);

    /// <summary>tiny-llama-bias: the same shapes with q/k/v/o biases.</summary>
    public LanguageModel Bias { get; } = LanguageModel.FromPretrained(RepositoryPaths.TinyLlamaBias);

    /// <summary>The model a reference scenario names.</summary>
    public LanguageModel For(string scenario) => scenario.StartsWith("LB", StringComparison.Ordinal) ? Bias : Plain;

    /// <summary>Disposes both models.</summary>
    public void Dispose()
    {
        Plain.Dispose();
        Bias.Dispose();
    }
}
