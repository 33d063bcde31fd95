using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>The result of running a graph: the model's primary output and the saved values, owned by the caller.</summary>
/// <param name="Output">The logits of a forward pass, or the token ids of a generation; null when the run stopped early.</param>
/// <param name="Saved">The saved values by node id.</param>
public sealed record GraphResult(Tensor? Output, IReadOnlyDictionary<int, Tensor> Saved);

/// <summary>
/// Runs an intervention graph on a model for given invocations: batches their rows, installs the hooks, runs one
/// forward pass or generation (under <c>no_grad</c>, unless the graph calls <c>Backward()</c>: then with autograd, and
/// the backward pass after it), and always removes the hooks. Used by tracing contexts and by the
/// server alike, so a deserialized graph runs exactly as a recorded one.
/// </summary>
public static class GraphRunner
{
    /// <summary>Runs <paramref name="graph"/> on <paramref name="model"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="graph">The graph; its accesses name invocations by position in <paramref name="invocations"/>.</param>
    /// <param name="invocations">Each invocation's token rows, in order.</param>
    /// <param name="generation">Generation options, or null for one forward pass.</param>
    /// <param name="cancellation">Stops the run at the next module hook or generation step; the model is left as it was.</param>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    /// <exception cref="GradientException">The graph reads or sets a gradient but never calls <c>Backward()</c>.</exception>
    public static GraphResult Run(NnSightModel model, InterventionGraph graph, IReadOnlyList<IReadOnlyList<TokenRow>> invocations,
        GenerationOptions? generation, CancellationToken cancellation = default) =>
        Run(model, graph, invocations, generation, cancellation, imports: null);

    /// <summary>Runs a graph of a session, whose <c>session_value</c> nodes read <paramref name="imports"/>.</summary>
    internal static GraphResult Run(NnSightModel model, InterventionGraph graph, IReadOnlyList<IReadOnlyList<TokenRow>> invocations,
        GenerationOptions? generation, CancellationToken cancellation, Func<SessionRef, Tensor>? imports)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(graph);
        var backward = RequireBackwardForGradients(graph);
        var layout = Layout(invocations);
        using var batch = model.CreateBatch([.. invocations.SelectMany(rows => rows)]);
        using var interleaver = new Interleaver(graph, model.ModuleAt, layout, cancellation, imports, model.WritesModuleValuesInPlace);
        using var gradMode = backward ? enable_grad() : no_grad();
        var request = new ForwardRequest(graph.Nodes.Where(node => node.Definition.Kind is OpKind.Getter or OpKind.Setter)
            .Select(node => node.Access!.Path).ToHashSet(StringComparer.Ordinal), cancellation);
        Tensor? output = null;
        try
        {
            interleaver.Install();
            try
            {
                output = generation is null ? model.RunForward(batch, request) : model.RunGeneration(batch, generation, request);
            }
            catch (Interleaver.StopRun)
            {
                // Stop(): every node of the forward has run; the rest of the model does not.
            }
            interleaver.RemoveHooks();
            interleaver.Finish();
            if (backward && output is not null)
            {
                // The caller's output must not keep the forward's autograd graph (every activation) alive.
                using var attached = output;
                output = attached.detach();
            }
            return new GraphResult(output, new Dictionary<int, Tensor>(interleaver.Saved));
        }
        catch
        {
            output?.Dispose();
            interleaver.DisposeSaved();
            throw;
        }
    }

    /// <summary>Whether the graph calls <c>Backward()</c>; a gradient read or set without one is refused before anything runs.</summary>
    /// <exception cref="GradientException">A gradient node in a graph without a <c>Backward()</c> call.</exception>
    internal static bool RequireBackwardForGradients(InterventionGraph graph)
    {
        var backward = graph.Nodes.Any(node => node.Definition.Kind == OpKind.Backward);
        var gradient = graph.Nodes.FirstOrDefault(node => node.Definition.Kind is OpKind.GradientGetter or OpKind.GradientSetter);
        if (gradient is not null && !backward)
        {
            var target = graph.Nodes[((NodeRef)gradient.Args[0]!).Id];
            throw new GradientException(
                $"{(gradient.Source is null ? "" : $"{gradient.Source}: ")}{NodeDescriptions.Describe(graph, target)}.Grad is " +
                $"{(gradient.Definition.Kind == OpKind.GradientGetter ? "read" : "set")}, but this trace never calls Backward(); " +
                "gradients exist only in a trace that runs a backward pass (call loss.Backward() on a scalar proxy).");
        }
        return backward;
    }

    private static List<InvocationRows> Layout(IReadOnlyList<IReadOnlyList<TokenRow>> invocations)
    {
        var layout = new List<InvocationRows>();
        var start = 0;
        foreach (var rows in invocations)
        {
            layout.Add(new InvocationRows(start, rows.Count, [.. rows.Select(row => (long)row.RealLength)]));
            start += rows.Count;
        }
        return layout;
    }
}
