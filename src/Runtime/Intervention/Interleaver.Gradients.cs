using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>
/// Gradients: a value whose <c>.Grad</c> the graph reads or sets is wrapped in a <see cref="GradientTap"/> where it
/// flows. A module value is tapped on the whole batch tensor in the module's hook, before any getter binds, so the model
/// and the graph's own ops both reach it through the tap; each invocation's gradient is its rows, with the view steps of
/// the proxy (element, index, token, ...) replayed on them. Any other value is tapped where it is computed. The
/// backward pass runs after the forward, from the sum of every <c>Backward()</c> loss; each tap's callback binds the
/// gradient getters of its tap, runs what became ready and applies the gradient setters before the gradient flows on.
/// See docs/architecture.md#gradients.
/// </summary>
internal sealed partial class Interleaver
{
    /// <summary>
    /// Where a gradient node's value is: under a module getter through <paramref name="Steps"/> (elements, then views),
    /// or, when <paramref name="Getter"/> is null, the target itself, tapped where it is computed.
    /// </summary>
    private sealed record GradientRoute(Node? Getter, IReadOnlyList<Node> Steps);

    /// <summary>A gradient tap's callback: the gradient reaching tap <paramref name="Tap"/>.</summary>
    private sealed record GradientPoint(int Tap) : Point;

    private readonly Dictionary<int, GradientRoute> _routes = [];
    private readonly Dictionary<int, List<int>> _gradientsOfValue = [];
    private readonly Dictionary<int, int> _tapOf = [];
    private readonly Dictionary<int, IReadOnlyList<Node>> _viewSteps = [];
    private readonly Dictionary<int, int> _gradientHome = [];
    private readonly HashSet<int> _backwardPhase = [];
    private int _taps;
    private Exception? _backwardFailure;

    /// <summary>Finds each gradient node's route, and keeps the values its view steps need alive until it has run.</summary>
    private void PlanGradients()
    {
        foreach (var node in _graph.Nodes.Where(node => node.Definition.Kind is OpKind.GradientGetter or OpKind.GradientSetter))
        {
            var target = Target(node);
            var steps = new List<Node>();
            var current = target;
            while (current.Definition.Kind != OpKind.Getter && IsViewStep(current))
            {
                steps.Insert(0, current);
                current = _graph.Nodes[((NodeRef)current.Args[0]!).Id];
            }
            if (current.Definition.Kind == OpKind.Getter)
            {
                _routes[node.Id] = new GradientRoute(current, steps);
                var stepArguments = steps.SelectMany(step => step.Dependencies.Skip(1)).Distinct().Except(_dependencies[node.Id]).ToArray();
                foreach (var argument in stepArguments)
                {
                    _remainingUses[argument]++;
                }
                _dependencies[node.Id] = [.. _dependencies[node.Id], .. stepArguments];
            }
            else
            {
                _routes[node.Id] = new GradientRoute(null, []);
                (_gradientsOfValue.TryGetValue(target.Id, out var nodes) ? nodes : _gradientsOfValue[target.Id] = []).Add(node.Id);
            }
        }
        foreach (var node in _graph.Nodes.Where(node =>
            node.Definition.Kind is OpKind.GradientGetter or OpKind.GradientSetter or OpKind.Backward || _dependencies[node.Id].Any(_backwardPhase.Contains)))
        {
            _backwardPhase.Add(node.Id);
        }
        foreach (var node in _graph.Nodes.Where(node => node.Definition.Kind == OpKind.InPlace))
        {
            if (RootOf(node) is { Definition.Kind: OpKind.GradientGetter } root)
            {
                _gradientHome[node.Id] = root.Id;
            }
        }
    }

    private static bool IsViewStep(Node node) =>
        node.Definition.IsView && node.Args.Count > 0 && node.Args[0] is NodeRef
        && node.Definition.Kind is OpKind.Element or OpKind.Token or OpKind.Function or OpKind.InPlace;

    private Node Target(Node gradient) => _graph.Nodes[((NodeRef)gradient.Args[0]!).Id];

    /// <summary>
    /// Wraps, in a module's hook value, every tensor whose gradient a gradient node routed through this hook reads or
    /// sets, one tap per element path, before the getters bind.
    /// </summary>
    private object? TapModuleValues(HookPoint point, object? value)
    {
        Dictionary<string, int>? taps = null;
        foreach (var (id, route) in _routes)
        {
            if (route.Getter is not { } getter || !point.Matches(getter.Access!))
            {
                continue;
            }
            var elements = getter.Access!.Kind == AccessKind.Input ? new List<long> { 0 } : [];
            var current = getter.Access.Kind == AccessKind.Input ? ((ArgumentTuple)value!)[0] : value;
            var consumed = 0;
            foreach (var step in route.Steps)
            {
                if (current is not ITuple tuple || step.Definition.Kind != OpKind.Element)
                {
                    break;
                }
                elements.Add((long)step.Args[1]!);
                current = Values.Element(tuple, (long)step.Args[1]!, Label(getter.Access.Path));
                consumed++;
            }
            var tensor = RequireDifferentiable(current, _graph.Nodes[id]);
            var key = string.Join(".", elements);
            taps ??= [];
            if (!taps.TryGetValue(key, out var tap))
            {
                tap = taps[key] = _taps++;
                value = WithElementAt(value, elements, 0, Wrap(tensor, tap), getter.Access.Path);
            }
            _tapOf[id] = tap;
            _viewSteps[id] = [.. route.Steps.Skip(consumed)];
        }
        return value;
    }

    private static object? WithElementAt(object? value, List<long> elements, int depth, Tensor replacement, string path) =>
        depth == elements.Count
            ? replacement
            : Values.WithElement((ITuple)value!, elements[depth],
                WithElementAt(Values.Element((ITuple)value!, elements[depth], Label(path)), elements, depth + 1, replacement, path), Label(path));

    /// <summary>Taps a graph value whose gradient is read or set, as it is computed; the untapped handle is released.</summary>
    private object? TapComputedValue(int id, object? value)
    {
        if (!_gradientsOfValue.TryGetValue(id, out var gradients))
        {
            return value;
        }
        var tensor = RequireDifferentiable(value, _graph.Nodes[gradients[0]]);
        var tap = _taps++;
        foreach (var gradient in gradients)
        {
            _tapOf[gradient] = tap;
            _viewSteps[gradient] = [];
        }
        var tapped = Own(Wrap(tensor, tap))!;
        tensor.Dispose();
        return tapped;
    }

    private Tensor RequireDifferentiable(object? value, Node gradient) => value switch
    {
        Tensor tensor when tensor.is_floating_point() => tensor,
        Tensor tensor => throw new GradientException(
            $"{Where(gradient)}{Describe(Target(gradient))} is a {tensor.dtype} tensor; only floating-point values have gradients."),
        _ => throw new GradientException(
            $"{Where(gradient)}{Describe(Target(gradient))} is {Values.Describe(value)}; index the tuple ([0], [1], ...) to reach a tensor's gradient."),
    };

    private Tensor Wrap(Tensor tensor, int tap) => GradientTap.Wrap(tensor, gradient => OnGradient(tap, gradient));

    /// <summary>
    /// A tap's callback, called by the autograd engine: binds and runs the graph on a copy of the gradient and returns
    /// it. An exception cannot cross the engine's native frames, so it is kept and rethrown once the backward returns.
    /// </summary>
    private Tensor OnGradient(int tap, Tensor gradient)
    {
        if (_backwardFailure is not null)
        {
            return gradient.alias();
        }
        try
        {
            var current = gradient.clone();
            RunReady(new GradientPoint(tap), current);
            return current;
        }
        catch (Exception error)
        {
            _backwardFailure = error;
            return gradient.alias();
        }
    }

    /// <summary>
    /// Runs one backward pass from the sum of every <c>Backward()</c> loss (a non-scalar weighted by its gradient), so
    /// each invocation's gradients are those of its own loss; then rethrows what a tap's callback met.
    /// </summary>
    private void RunBackward()
    {
        var calls = _pending.Select(id => _graph.Nodes[id]).Where(node => node.Definition.Kind == OpKind.Backward).ToList();
        if (calls.Count == 0)
        {
            return;
        }
        using (var scope = NewDisposeScope())
        using (var gradMode = enable_grad())
        {
            var total = calls.Select(LossOf).Aggregate((sum, term) => sum + term);
            if (total.requires_grad)
            {
                total.backward();
            }
        }
        if (_backwardFailure is { } failure)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
        foreach (var call in calls)
        {
            Complete(call.Id, null);
        }
    }

    private Tensor LossOf(Node call)
    {
        var loss = (Tensor)Resolve(call.Args[0])!;
        if (call.Args.Count > 1)
        {
            return Resolve(call.Args[1]) switch
            {
                Tensor weights => (loss * weights).sum(),
                var weight => throw new GradientException($"{Where(call)}{Describe(call)} needs a tensor gradient, not {Values.Describe(weight)}."),
            };
        }
        return loss.numel() == 1
            ? loss.sum()
            : throw new GradientException(
                $"{Where(call)}{Describe(call)}: Backward() needs a scalar loss, and this one has shape {Shapes.Format(loss.shape)}; " +
                "reduce it (sum(), mean()) or pass the gradient, Backward(gradient).");
    }

    /// <exception cref="GradientException">A gradient getter or setter that the backward pass never reached.</exception>
    private void RequireGradientsReached()
    {
        var unreached = _pending.Select(id => _graph.Nodes[id])
            .FirstOrDefault(node => node.Definition.Kind is OpKind.GradientGetter or OpKind.GradientSetter && !node.Optional);
        if (unreached is not null)
        {
            throw new GradientException(
                $"{Where(unreached)}{Describe(Target(unreached))}.Grad was never reached by the backward pass: no Backward() loss of this " +
                "trace depends on that value.");
        }
    }

    /// <summary>The gradient of a gradient node's value: the invocation's rows of a module value, with its view steps replayed.</summary>
    private Tensor GradientOf(Tensor gradient, int id)
    {
        if (_routes[id].Getter is not { } getter)
        {
            return gradient.alias();
        }
        var rows = _invocations[getter.Access!.Invocation];
        var view = gradient.narrow(0, rows.Start, rows.Count);
        foreach (var step in _viewSteps[id])
        {
            var next = Replay(step, view);
            view.Dispose();
            view = next;
        }
        return view;
    }

    private Tensor Replay(Node step, Tensor input) => step.Definition.Kind switch
    {
        OpKind.Element => input[(long)step.Args[1]!],
        OpKind.Token => TokenSelection.Select(input, (TokenSelector)step.Args[1]!, _invocations[(int)(long)step.Args[2]!].RealLengths),
        OpKind.InPlace => input.alias(),
        _ => (Tensor)step.Definition.Run!([input, .. step.Args.Skip(1).Select(Resolve)])!,
    };

    /// <summary>Writes a gradient setter's value into its slot of the gradient (a view of the copy the tap returns).</summary>
    private void SetGradient(Tensor gradient, Node setter)
    {
        using var slot = GradientOf(gradient, setter.Id);
        var replacement = Resolve(setter.Args[1]);
        try
        {
            switch (replacement)
            {
                case Tensor values:
                    slot.copy_(values);
                    break;
                case double or long:
                    slot.fill_(replacement is double real ? real : (long)replacement);
                    break;
                default:
                    throw new ShapeMismatchException($"{Where(setter)}{Describe(setter)}: a gradient cannot be set to {Values.Describe(replacement)}.");
            }
        }
        catch (ExternalException)
        {
            throw new ShapeMismatchException(
                $"{Where(setter)}{Describe(Target(setter))}.Grad has shape {Shapes.Format(slot.shape)}, which a value of shape " +
                $"{Values.Describe(replacement)} cannot replace.");
        }
    }

    private OutOfOrderException GradientOutOfOrder(Node stuck)
    {
        var blocking = Blocking(stuck);
        var source = blocking is null ? "a value that is not computed yet" : Describe(blocking);
        return new OutOfOrderException(
            $"{Where(stuck)}{Describe(stuck)} is set from {source}, which the backward pass computes only after this gradient has " +
            "flowed on; gradients flow from the loss back towards the input, so a gradient can only be set from forward values " +
            "and the gradients of values that come later in the forward pass.");
    }
}
