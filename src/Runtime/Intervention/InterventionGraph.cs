namespace NnSight.Intervention;

/// <summary>
/// The recorded intervention: nodes in program order. It is data: op names from the registry, node references and
/// constants, module accesses by path, invocation and call. The same graph runs locally (module hooks) or remotely.
/// </summary>
public sealed class InterventionGraph
{
    /// <summary>The version of the graph's JSON form.</summary>
    public const int FormatVersion = 1;

    private readonly List<Node> _nodes = [];

    /// <summary>The nodes in program order.</summary>
    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>Appends a node with the next id.</summary>
    public Node Add(string op, IReadOnlyList<object?> args, ModuleAccess? access = null, SourceLocation? source = null,
        Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>? localFunction = null)
    {
        var node = new Node(_nodes.Count, op, args, access, source, localFunction);
        _nodes.Add(node);
        return node;
    }

    /// <summary>The module paths the graph reads, writes or calls.</summary>
    public IReadOnlySet<string> AccessedModules() =>
        _nodes.Where(node => node.Access is not null).Select(node => node.Access!.Path).ToHashSet(StringComparer.Ordinal);

    /// <summary>Whether any node runs local code (and so cannot run remotely).</summary>
    public bool HasLocalCode => _nodes.Any(node => node.LocalFunction is not null);
}
