namespace NnSight.Models.Modules;

/// <summary>
/// An attention module with two paths: libtorch's fused scaled-dot-product kernel, which never materialises the
/// attention probabilities, and the eager path, which computes them as HuggingFace does so that a hook can read or
/// replace them. The model turns the eager path on for the runs that observe the probabilities
/// (<see cref="CausalLanguageModel.ObserveAttention"/>); see docs/architecture.md#attention.
/// </summary>
internal interface IObservableAttention
{
    /// <summary>Whether the module computes its probabilities eagerly.</summary>
    bool Eager { get; set; }

    /// <summary>Whether a run that reads or writes the modules at <paramref name="accessed"/> observes the probabilities of
    /// this module, which sits at <paramref name="path"/>.</summary>
    bool ObservedBy(string path, IReadOnlySet<string> accessed);
}
