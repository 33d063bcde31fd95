namespace NnSight.Intervention;

/// <summary>Limits a received graph must stay within.</summary>
/// <param name="MaxNodes">The most nodes a graph may have.</param>
/// <param name="MaxConstantBytes">The most bytes all tensor constants together may hold.</param>
/// <param name="MaxNewTokens">The most tokens a generation may ask for.</param>
internal sealed record GraphLimits(int MaxNodes, long MaxConstantBytes, int MaxNewTokens);

/// <summary>
/// Checks a graph received from elsewhere before anything runs: size limits, module paths that exist and can be
/// hooked, invocation and step numbers the run has, argument kinds per op, and every op's operands against its own
/// definition on meta tensors (so a type or shape error is refused up front rather than met mid-run).
/// </summary>
internal static class GraphValidator
{
    /// <summary>
    /// Throws <see cref="GraphFormatException"/> with a message naming the node when the graph cannot run;
    /// <paramref name="importedShape"/> gives the shapes of values earlier traces of a session keep.
    /// </summary>
    public static void Validate(InterventionGraph graph, NnSightModel model, IReadOnlyList<IReadOnlyList<TokenRow>> invocations,
        GenerationOptions? generation, GraphLimits limits, Func<SessionRef, ValueShape>? importedShape = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(invocations);
        ArgumentNullException.ThrowIfNull(limits);
        if (graph.Nodes.Count > limits.MaxNodes)
        {
            throw new GraphFormatException($"The graph has {graph.Nodes.Count} nodes; this server accepts at most {limits.MaxNodes}.");
        }
        if (generation is not null && (generation.MaxNewTokens > limits.MaxNewTokens || generation.MaxNewTokens < 1))
        {
            throw new GraphFormatException($"maxNewTokens is {generation.MaxNewTokens}; this server accepts 1 to {limits.MaxNewTokens}.");
        }
        var constantBytes = graph.Nodes.SelectMany(node => InterventionGraph.Constants(node.Args)).Sum(tensor => tensor.numel() * tensor.ElementSize);
        if (constantBytes > limits.MaxConstantBytes)
        {
            throw new GraphFormatException($"The graph's tensor constants hold {constantBytes} bytes; this server accepts at most {limits.MaxConstantBytes}.");
        }
        var steps = generation?.MaxNewTokens ?? 1;
        foreach (var node in graph.Nodes)
        {
            CheckNode(node, model, invocations.Count, steps);
        }
        try
        {
            GraphRunner.RequireBackwardForGradients(graph);
        }
        catch (GradientException error)
        {
            throw new GraphFormatException(error.Message, error);
        }
        var shapes = new ShapeInference(graph, model, new FixedInvocationSizes(invocations, generation), importedShape);
        foreach (var node in graph.Nodes.Where(node => node.Definition.Kind == OpKind.Function))
        {
            try
            {
                shapes.Of(node);
            }
            catch (ShapeMismatchException error)
            {
                throw new GraphFormatException($"Node {node.Id}: {error.Message}", error);
            }
            catch (ShapeUnknownException)
            {
                // Without shape rules for an operand the op is checked when it runs.
            }
        }
    }

    private static void CheckNode(Node node, NnSightModel model, int invocations, int steps)
    {
        var op = node.Definition;
        if (node.Access is { } access)
        {
            RequireModule(model, access.Path, node);
            if (access.Invocation >= invocations)
            {
                throw Error(node, $"names invocation {access.Invocation}, but the request has {invocations}");
            }
            if (op.Kind is OpKind.Getter or OpKind.Setter && access.Call >= steps)
            {
                throw Error(node, $"names forward pass {access.Call}, but the run has {steps}");
            }
        }
        var arguments = node.Args;
        var wellTyped = op.Kind switch
        {
            OpKind.Getter => arguments.Count == 0,
            OpKind.Setter => arguments.Count == 2 && arguments[1] is long[],
            OpKind.Element => arguments.Count == 2 && arguments[0] is NodeRef && arguments[1] is long,
            OpKind.InPlace => arguments.Count == 3 && arguments[0] is NodeRef && arguments[1] is IndexSpec[],
            OpKind.Token => arguments.Count == 3 && arguments[0] is NodeRef && arguments[1] is TokenSelector && arguments[2] is long,
            OpKind.ModuleCall => arguments.Count == 1 && arguments[0] is List<object?>,
            OpKind.Function => arguments.Count > 0,
            OpKind.GradientGetter => arguments.Count == 1 && arguments[0] is NodeRef,
            OpKind.GradientSetter => arguments.Count == 2 && arguments[0] is NodeRef,
            OpKind.Backward => arguments.Count is 1 or 2 && arguments[0] is NodeRef,
            OpKind.Import => arguments.Count == 1 && arguments[0] is SessionRef,
            _ => false,
        };
        if (!wellTyped)
        {
            throw Error(node, $"has arguments that \"{node.Op}\" does not take");
        }
        if (op.Kind == OpKind.Token && arguments[2] is long invocation && (invocation < 0 || invocation >= invocations))
        {
            throw Error(node, $"names invocation {invocation}, but the request has {invocations}");
        }
    }

    private static void RequireModule(NnSightModel model, string path, Node node)
    {
        try
        {
            model.ModuleAt(path);
        }
        catch (ModuleNotFoundException)
        {
            throw Error(node, $"names module \"{path}\", which the model does not have");
        }
    }

    private static GraphFormatException Error(Node node, string problem) =>
        new($"Node {node.Id} ({node.Op}) {problem}.");
}
