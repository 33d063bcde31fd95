namespace NnSight.Intervention;

/// <summary>Readable names of graph values for messages: <c>transformer.h.3.output[0]</c>, <c>sum(...)</c>.</summary>
internal static class NodeDescriptions
{
    /// <summary>How the user would write the value of <paramref name="node"/>.</summary>
    public static string Describe(InterventionGraph graph, Node node) => Describe(graph, node, depth: 0);

    private static string Describe(InterventionGraph graph, Node node, int depth)
    {
        if (depth > 6)
        {
            return "...";
        }
        string Argument(object? argument) => argument switch
        {
            NodeRef reference => Describe(graph, graph.Nodes[reference.Id], depth + 1),
            IndexSpec[] indices => IndexSpec.Format(indices),
            long[] dims => Shapes.Format(dims),
            IReadOnlyList<object?> list => "[" + string.Join(", ", list.Select(Argument)) + "]",
            TorchSharp.torch.Tensor tensor => $"tensor{Shapes.Format(tensor.shape)}",
            null => "None",
            _ => Convert.ToString(argument, System.Globalization.CultureInfo.InvariantCulture) ?? "",
        };
        var op = node.Definition;
        return op.Kind switch
        {
            OpKind.Getter => node.Access!.ToString(),
            OpKind.Setter => $"{node.Access}" + string.Concat(((long[])node.Args[1]!).Select(i => $"[{i}]")),
            OpKind.Element => $"{Argument(node.Args[0])}[{node.Args[1]}]",
            OpKind.InPlace => $"{Argument(node.Args[0])}{Argument(node.Args[1])} = {Argument(node.Args[2])}",
            OpKind.Token => $"{Argument(node.Args[0])}.Token[{Token((TokenSelector)node.Args[1]!)}]",
            OpKind.ModuleCall => $"{(node.Access!.Path.Length == 0 ? "model" : node.Access.Path)}({string.Join(", ", ((IReadOnlyList<object?>)node.Args[0]!).Select(Argument))})",
            OpKind.Local => $"Apply({Argument(node.Args[0])})",
            OpKind.GradientGetter => $"{Argument(node.Args[0])}.Grad",
            OpKind.GradientSetter => $"{Argument(node.Args[0])}.Grad = {Argument(node.Args[1])}",
            OpKind.Import when node.Args[0] is SessionRef imported => $"trace{imported.Trace}.node{imported.Node}",
            OpKind.Backward => $"{Argument(node.Args[0])}.Backward({string.Join(", ", node.Args.Skip(1).Select(Argument))})",
            _ when op == OpRegistry.Index => $"{Argument(node.Args[0])}{Argument(node.Args[1])}",
            _ => $"{node.Op}({string.Join(", ", node.Args.Select(Argument))})",
        };
    }

    private static string Token(TokenSelector selector) => selector.Index?.ToString() ?? selector.Range!.Value.ToString();
}
