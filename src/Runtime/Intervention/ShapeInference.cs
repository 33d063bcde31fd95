using System.Runtime.CompilerServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>The sizes shape rules need: each invocation's rows and real lengths, the padded length, the run kind.</summary>
internal interface IInvocationSizes
{
    /// <summary>The generation options, or null for a single forward pass.</summary>
    GenerationOptions? Generation { get; }

    /// <summary>The rows of <paramref name="invocation"/>, the padded length of the batch so far, and the rows' real lengths.</summary>
    (int Rows, int PaddedLength, IReadOnlyList<long> RealLengths) InvocationSizes(int invocation);
}

/// <summary>The sizes of a fixed list of invocations (a graph received from elsewhere).</summary>
internal sealed class FixedInvocationSizes(IReadOnlyList<IReadOnlyList<TokenRow>> invocations, GenerationOptions? generation) : IInvocationSizes
{
    public GenerationOptions? Generation { get; } = generation;

    public (int Rows, int PaddedLength, IReadOnlyList<long> RealLengths) InvocationSizes(int invocation) =>
        (invocations[invocation].Count, invocations.SelectMany(rows => rows).Max(row => row.Ids.Count),
            [.. invocations[invocation].Select(row => (long)row.RealLength)]);
}

/// <summary>
/// Shapes of graph values before anything runs. Module values come from the model's shape rules for the invocation's
/// sizes; an op's shape comes from running that op on meta tensors (libtorch computes shapes without data), so each
/// op's shape rule is its own definition.
/// </summary>
internal sealed class ShapeInference(InterventionGraph graph, NnSightModel model, IInvocationSizes sizes,
    Func<SessionRef, ValueShape>? importedShape = null)
{
    private readonly Dictionary<int, ValueShape> _known = [];

    /// <summary>The structure of <paramref name="node"/>'s value.</summary>
    /// <exception cref="ShapeUnknownException">No rule applies.</exception>
    public ValueShape Of(Node node)
    {
        if (!_known.TryGetValue(node.Id, out var shape))
        {
            shape = Infer(node);
            _known[node.Id] = shape;
        }
        return shape;
    }

    private ValueShape Infer(Node node)
    {
        var op = node.Definition;
        return op.Kind switch
        {
            OpKind.Getter => AccessShape(node),
            OpKind.InPlace => Of(graph.Nodes[((NodeRef)node.Args[0]!).Id]),
            OpKind.Element => ElementShape(node),
            OpKind.Token => TokenShape(node),
            OpKind.ModuleCall => CallShape(node),
            OpKind.Function => OnMeta(node, op),
            OpKind.GradientGetter => Of(graph.Nodes[((NodeRef)node.Args[0]!).Id]),
            OpKind.Import => importedShape?.Invoke((SessionRef)node.Args[0]!) ?? throw Unknown(node, "it is a value of another trace"),
            _ => throw Unknown(node, op.Kind == OpKind.Local ? "it is computed by local code (Apply)" : "it is not a value"),
        };
    }

    private ValueShape AccessShape(Node node) => OfAccess(node.Access!, reason => Unknown(node, reason));

    /// <summary>The structure of a module's value at <paramref name="access"/>, from the model's shape rules.</summary>
    /// <exception cref="ShapeUnknownException">No rule applies.</exception>
    public ValueShape OfAccess(ModuleAccess access) =>
        OfAccess(access, reason => new ShapeUnknownException($"the shape of {access} is not known before the run: {reason}."));

    private ValueShape OfAccess(ModuleAccess access, Func<string, ShapeUnknownException> unknown)
    {
        var rules = model.ShapeRules ?? throw unknown("the model has no shape rules");
        var (rows, padded, _) = sizes.InvocationSizes(access.Invocation);
        if (access.Call > 0 && sizes.Generation is null)
        {
            throw unknown("a single forward pass has no later step");
        }
        var forward = access.Call == 0 ? new ForwardShape(rows, padded, 0) : new ForwardShape(rows, 1, padded + access.Call - 1);
        var shape = access.Kind == AccessKind.Output ? rules.Output(access.Path, forward) : rules.Inputs(access.Path, forward);
        return access.Kind == AccessKind.Input
            ? (shape as TupleShape)?.Elements.FirstOrDefault() ?? throw unknown($"no shape rule covers {access.Path}")
            : shape ?? throw unknown($"no shape rule covers {access.Path}");
    }

    private ValueShape ElementShape(Node node)
    {
        var target = Of(graph.Nodes[((NodeRef)node.Args[0]!).Id]);
        var index = (long)node.Args[1]!;
        if (target is TupleShape tuple)
        {
            var position = index < 0 ? tuple.Elements.Count + index : index;
            if (position < 0 || position >= tuple.Elements.Count)
            {
                throw new ShapeMismatchException($"{Where(node)}{Describe(node)}: the value has {tuple.Elements.Count} elements.");
            }
            return tuple.Elements[(int)position] ?? throw Unknown(node, "that element is not a tensor");
        }
        var dims = ((TensorShape)target).Dims;
        return dims.Length == 0 ? throw Unknown(node, "a 0-d tensor cannot be indexed") : new TensorShape(dims[1..], ((TensorShape)target).Dtype);
    }

    private ValueShape TokenShape(Node node)
    {
        if (Of(graph.Nodes[((NodeRef)node.Args[0]!).Id]) is not TensorShape { Dims.Length: >= 2 } target)
        {
            throw Unknown(node, "Token needs a tensor of at least [rows, positions]");
        }
        var selector = (TokenSelector)node.Args[1]!;
        if (selector.Index is not null)
        {
            return target with { Dims = [target.Dims[0], .. target.Dims[2..]] };
        }
        var (_, _, realLengths) = sizes.InvocationSizes((int)(long)node.Args[2]!);
        int length;
        try
        {
            length = selector.Range!.Value.GetOffsetAndLength((int)realLengths[0]).Length;
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new ShapeMismatchException($"{Where(node)}{Describe(node)} selects positions outside the prompt's {realLengths[0]} token(s).");
        }
        return target with { Dims = [target.Dims[0], length, .. target.Dims[2..]] };
    }

    private ValueShape CallShape(Node node)
    {
        var module = model.ModuleAt(node.Access!.Path);
        var arguments = (IReadOnlyList<object?>)node.Args[0]!;
        if (arguments.Count == 0 || ShapeOfArgument(arguments[0]) is not TensorShape input)
        {
            throw Unknown(node, "the module's first argument has no known shape");
        }
        ValueShape? shape = module switch
        {
            Linear linear => input with { Dims = [.. input.Dims[..^1], linear.out_features] },
            Embedding embedding => new TensorShape([.. input.Dims, embedding.weight!.shape[1]], embedding.weight.dtype),
            _ when IsElementwise(module) => input,
            _ when input.Dims.Length >= 2 => model.ShapeRules?.Output(node.Access!.Path, new ForwardShape(input.Dims[0], input.Dims[1], 0)),
            _ => null,
        };
        return shape ?? throw Unknown(node, $"no shape rule covers calling {node.Access!.Path}");
    }

    /// <summary>Normalisations, dropouts and parameterless leaf modules (activations) keep their input's shape.</summary>
    private static bool IsElementwise(nn.Module module) =>
        module is LayerNorm or Dropout || (!module.named_children().Any() && !module.parameters().Any() && ModuleHooks.Arity(module) == 1);

    private ValueShape OnMeta(Node node, OpDefinition op)
    {
        using var scope = NewDisposeScope();
        var arguments = node.Args.Select(MetaArgument).ToArray();
        object? result;
        try
        {
            result = (op.Meta ?? op.Run)!(arguments);
        }
        catch (Exception error) when (error is not NnSightException && error.Message.Contains("Meta tensors", StringComparison.Ordinal))
        {
            throw Unknown(node, $"libtorch has no meta kernel for {op.Name}");
        }
        catch (Exception error) when (error is not NnSightException)
        {
            throw new ShapeMismatchException($"{Where(node)}{Describe(node)} does not fit its operands' shapes: {error.Message.Split('\n')[0]}");
        }
        return ShapeOfValue(result) ?? throw Unknown(node, "its result is not a tensor");
    }

    private object? MetaArgument(object? argument) => argument switch
    {
        NodeRef reference => Meta(Of(graph.Nodes[reference.Id])),
        Tensor tensor => empty(tensor.shape, tensor.dtype, device: META),
        List<object?> list => list.Select(MetaArgument).ToList(),
        _ => argument,
    };

    private ValueShape? ShapeOfArgument(object? argument) => argument switch
    {
        NodeRef reference => Of(graph.Nodes[reference.Id]),
        Tensor tensor => new TensorShape(tensor.shape, tensor.dtype),
        _ => null,
    };

    private static object Meta(ValueShape shape) => shape switch
    {
        TensorShape tensor => empty(tensor.Dims, tensor.Dtype, device: META),
        TupleShape tuple => new ArgumentTuple([.. tuple.Elements.Select(element => element is null ? null : Meta(element))]),
        _ => throw new InvalidOperationException(),
    };

    private static ValueShape? ShapeOfValue(object? value) => value switch
    {
        Tensor tensor => new TensorShape(tensor.shape, tensor.dtype),
        ITuple tuple => new TupleShape([.. Enumerable.Range(0, tuple.Length).Select(i => ShapeOfValue(tuple[i]))]),
        _ => null,
    };

    private ShapeUnknownException Unknown(Node node, string reason) =>
        new($"{Where(node)}the shape of {Describe(node)} is not known before the run: {reason}.");

    private string Describe(Node node) => NodeDescriptions.Describe(graph, node);

    private static string Where(Node node) => node.Source is null ? "" : $"{node.Source}: ";
}
