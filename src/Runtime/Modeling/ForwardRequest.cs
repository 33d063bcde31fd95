namespace NnSight;

/// <summary>What the runtime asks of one run of the model besides its inputs.</summary>
/// <param name="AccessedModules">The module paths the intervention graph reads or writes ("" is the root), so the model
/// can skip work nobody observes (for example computing logits for every position while generating).</param>
/// <param name="Cancellation">Stops a generation between steps (a job past its time limit).</param>
public sealed record ForwardRequest(IReadOnlySet<string> AccessedModules, CancellationToken Cancellation = default)
{
    /// <summary>A request that observes no module.</summary>
    public static ForwardRequest None { get; } = new(new HashSet<string>());
}
