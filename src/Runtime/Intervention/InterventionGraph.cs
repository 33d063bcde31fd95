using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>
/// The recorded intervention: nodes in program order. It is data: op names from the registry, node references and
/// constants, module accesses by path, invocation and call. The same graph runs locally (module hooks) or remotely.
/// The graph owns its tensor constants (tensor arguments, index tensors, tensors in argument lists) and disposes them
/// when it is disposed.
/// </summary>
public sealed class InterventionGraph : IDisposable
{
    /// <summary>The version of the graph's JSON form.</summary>
    public const int FormatVersion = 1;

    private readonly List<Node> _nodes = [];
    private bool _disposed;

    internal InterventionGraph()
    {
    }

    /// <summary>The nodes in program order.</summary>
    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>Whether the forward ends as soon as every node it runs has run (<c>tracer.Stop()</c>).</summary>
    public bool StopWhenDone { get; internal set; }

    /// <summary>Appends a node with the next id; the graph takes ownership of the tensor constants in <paramref name="args"/>.</summary>
    /// <exception cref="ObjectDisposedException">The graph has been disposed.</exception>
    internal Node Add(string op, IReadOnlyList<object?> args, ModuleAccess? access = null, SourceLocation? source = null,
        Func<Tensor, Tensor>? localFunction = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var node = new Node(_nodes.Count, op, args, access, source, localFunction);
        _nodes.Add(node);
        return node;
    }

    /// <summary>
    /// Appends a copy of <paramref name="template"/> (from this graph or another) at <paramref name="access"/>, its node
    /// references mapped by <paramref name="map"/>; tensor constants become handles of this graph's own.
    /// </summary>
    internal Node AddCopy(Node template, Func<NodeRef, NodeRef> map, ModuleAccess? access, Func<SessionRef, SessionRef>? mapImport = null)
    {
        var node = Add(template.Op, [.. template.Args.Select(argument => CopyArgument(argument, map, mapImport))], access, template.Source, template.LocalFunction);
        node.Saved = template.Saved;
        node.Optional = template.Optional;
        node.Kept = template.Kept;
        return node;
    }

    private static object? CopyArgument(object? argument, Func<NodeRef, NodeRef> map, Func<SessionRef, SessionRef>? mapImport) => argument switch
    {
        NodeRef reference => map(reference),
        SessionRef imported => mapImport?.Invoke(imported) ?? imported,
        Tensor tensor => tensor.alias().DetachFromDisposeScope(),
        IndexSpec[] indices => indices.Select(index => index.Values is { } values ? index with { Values = values.alias().DetachFromDisposeScope() } : index).ToArray(),
        List<object?> list => list.Select(item => CopyArgument(item, map, mapImport)).ToList(),
        _ => argument,
    };

    /// <summary>A copy of the graph with tensor constants of its own.</summary>
    internal InterventionGraph Copy()
    {
        var copy = new InterventionGraph { StopWhenDone = StopWhenDone };
        foreach (var node in _nodes)
        {
            copy.AddCopy(node, reference => reference, node.Access);
        }
        return copy;
    }

    /// <summary>The module paths the graph reads, writes or calls.</summary>
    internal IReadOnlySet<string> AccessedModules() =>
        _nodes.Where(node => node.Access is not null).Select(node => node.Access!.Path).ToHashSet(StringComparer.Ordinal);

    /// <summary>Whether any node runs local code (and so cannot run remotely).</summary>
    internal bool HasLocalCode => _nodes.Any(node => node.LocalFunction is not null);

    /// <summary>Whether the tensor constants have been released.</summary>
    internal bool IsDisposed => _disposed;

    /// <summary>Disposes every tensor constant of the graph; the graph cannot run afterwards.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (var tensor in _nodes.SelectMany(node => Constants(node.Args)))
        {
            tensor.Dispose();
        }
    }

    /// <summary>The tensor constants among <paramref name="arguments"/>, nested ones included.</summary>
    internal static IEnumerable<Tensor> Constants(IEnumerable<object?> arguments) => arguments.SelectMany(Constants);

    private static IEnumerable<Tensor> Constants(object? argument) => argument switch
    {
        Tensor tensor => [tensor],
        IndexSpec[] indices => indices.Where(index => index.Values is not null).Select(index => index.Values!),
        IEnumerable<object?> list => Constants(list),
        _ => [],
    };
}
