using System.Text.RegularExpressions;

namespace NnSight.Models.Loading;

/// <summary>
/// How an architecture's checkpoint names and layouts map onto its module's state_dict.
/// </summary>
/// <param name="BasePrefix">The base model's prefix (<c>transformer.</c>, <c>model.</c>), which a checkpoint saved
/// from the base model alone leaves out.</param>
/// <param name="IgnoredTensors">Stored tensors that are not parameters (old causal-mask buffers, rotary caches).</param>
/// <param name="TransposedWeights">Weights stored as [in, out] (HuggingFace's Conv1D) that the module keeps as [out, in].</param>
/// <param name="TiedTensors">state_dict keys that share another parameter and need not be stored.</param>
internal sealed record CheckpointLayout(
    string BasePrefix,
    Regex? IgnoredTensors,
    Regex? TransposedWeights,
    IReadOnlyList<string> TiedTensors)
{
    /// <summary>Whether the stored tensor <paramref name="name"/> is skipped on load.</summary>
    public bool IsIgnored(string name) => IgnoredTensors?.IsMatch(name) == true;

    /// <summary>Whether the stored tensor <paramref name="name"/> is kept transposed in the checkpoint.</summary>
    public bool IsTransposed(string name) => TransposedWeights?.IsMatch(name) == true;
}
