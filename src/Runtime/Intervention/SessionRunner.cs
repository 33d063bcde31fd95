using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>One trace of a session, ready to run.</summary>
/// <param name="Graph">Its graph; <c>session_value</c> nodes name kept values of earlier traces.</param>
/// <param name="Invocations">Each invocation's token rows.</param>
/// <param name="Generation">Generation options, or null for one forward pass.</param>
internal sealed record SessionTrace(InterventionGraph Graph, IReadOnlyList<IReadOnlyList<TokenRow>> Invocations, GenerationOptions? Generation);

/// <summary>
/// Runs the traces of a session in order as one unit, locally or on a server: a value an earlier trace keeps for a later
/// one is handed over in memory and never leaves the run; each trace's result holds only the values its user saved.
/// See docs/architecture.md#sessions.
/// </summary>
internal static class SessionRunner
{
    /// <summary>Checks that every <c>session_value</c> of every trace names a kept node of an earlier trace.</summary>
    /// <exception cref="GraphFormatException">A reference to a later trace, a missing node, or a node not kept.</exception>
    public static void Validate(IReadOnlyList<SessionTrace> traces)
    {
        for (var trace = 0; trace < traces.Count; trace++)
        {
            ValidateImports(traces[trace].Graph, [.. traces.Take(trace)]);
        }
    }

    /// <summary>Checks that every <c>session_value</c> of <paramref name="graph"/> names a kept node of <paramref name="earlier"/>.</summary>
    /// <exception cref="GraphFormatException">A reference to a later trace, a missing node, or a node not kept.</exception>
    public static void ValidateImports(InterventionGraph graph, IReadOnlyList<SessionTrace> earlier)
    {
        foreach (var node in graph.Nodes.Where(node => node.Definition.Kind == OpKind.Import))
        {
            var reference = (SessionRef)node.Args[0]!;
            if (reference.Trace < 0 || reference.Trace >= earlier.Count || reference.Node < 0 || reference.Node >= earlier[reference.Trace].Graph.Nodes.Count
                || !earlier[reference.Trace].Graph.Nodes[reference.Node].Kept)
            {
                throw new GraphFormatException(
                    $"Node {node.Id} reads node {reference.Node} of trace {reference.Trace}, which is not a kept value of an earlier trace.");
            }
        }
    }

    /// <summary>Runs every trace in order; the results hold the saved values only, owned by the caller.</summary>
    public static IReadOnlyList<GraphResult> Run(NnSightModel model, IReadOnlyList<SessionTrace> traces, CancellationToken cancellation = default)
    {
        Validate(traces);
        var results = new List<GraphResult>();
        try
        {
            foreach (var trace in traces)
            {
                results.Add(trace.Invocations.Count == 0
                    ? new GraphResult(null, new Dictionary<int, Tensor>())
                    : GraphRunner.Run(model, trace.Graph, trace.Invocations, trace.Generation, cancellation, reference => KeptValue(results, reference)));
            }
            return [.. results.Select((result, trace) => result with
            {
                Saved = result.Saved.Where(saved => traces[trace].Graph.Nodes[saved.Key].Saved).ToDictionary(saved => saved.Key, saved => saved.Value),
            })];
        }
        catch
        {
            foreach (var result in results)
            {
                Dispose(result.Saved.Values.Append(result.Output));
            }
            throw;
        }
        finally
        {
            // Values kept only for later traces stay in the run.
            for (var trace = 0; trace < results.Count; trace++)
            {
                Dispose(results[trace].Saved.Where(saved => !traces[trace].Graph.Nodes[saved.Key].Saved).Select(saved => saved.Value));
            }
        }
    }

    private static Tensor KeptValue(List<GraphResult> results, SessionRef reference) =>
        results[reference.Trace].Saved.TryGetValue(reference.Node, out var value) ? value
            : throw new InterventionException($"Node {reference.Node} of trace {reference.Trace} did not run (its generation step was never reached), so a later trace cannot read it.");

    private static void Dispose(IEnumerable<Tensor?> tensors)
    {
        foreach (var tensor in tensors)
        {
            tensor?.Dispose();
        }
    }
}
