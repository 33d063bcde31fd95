using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>The rows of the batch that belong to one invocation, and their real (unpadded) lengths.</summary>
/// <param name="Start">The first row.</param>
/// <param name="Count">The number of rows.</param>
/// <param name="RealLengths">Each row's real token count.</param>
internal sealed record InvocationRows(int Start, int Count, IReadOnlyList<long> RealLengths);

/// <summary>
/// Runs an intervention graph inside the model's forward passes. Hooks go only on the modules the graph reads or
/// writes; at each call of such a module the executor binds that call's accesses (the invocation's rows of the value),
/// runs every node whose arguments are ready in program order, applies the setters, and hands the value back. Values
/// it creates are owned here, detached from TorchSharp dispose scopes, and disposed as soon as their last consumer has
/// run; saved values are copies that outlive the run. See docs/architecture.md#the-executor-and-invocation-rows.
/// </summary>
internal sealed partial class Interleaver : IDisposable
{
    private readonly InterventionGraph _graph;
    private readonly Func<string, nn.Module> _resolveModule;
    private readonly IReadOnlyList<InvocationRows> _invocations;
    private readonly object?[] _values;
    private readonly bool[] _done;
    private readonly int[] _remainingUses;
    private readonly ModuleAccess?[] _home;
    private readonly List<int> _pending;
    private readonly int[][] _dependencies;
    private readonly Dictionary<string, int> _outputCalls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _inputCalls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, nn.Module> _skippable = new(StringComparer.Ordinal);
    private readonly Dictionary<int, Tensor> _saved = [];
    private readonly List<Action> _removers = [];
    private readonly CancellationToken _cancellation;
    private readonly Func<SessionRef, Tensor>? _imports;
    private readonly bool _shareModuleValues;
    private readonly bool[] _wholeModuleValue;
    private int _adHocDepth;

    /// <param name="graph">The graph to run.</param>
    /// <param name="resolveModule">The module at a path.</param>
    /// <param name="invocations">Each invocation's batch rows.</param>
    /// <param name="cancellation">Ends the run at the next hooked call.</param>
    /// <param name="imports">The values of earlier traces of a session, for <c>session_value</c> nodes.</param>
    /// <param name="modelWritesInPlace">Whether the model may write into a module's value after the module returned it
    /// (see <see cref="NnSightModel.WritesModuleValuesInPlace"/>); then every saved value is copied.</param>
    public Interleaver(InterventionGraph graph, Func<string, nn.Module> resolveModule, IReadOnlyList<InvocationRows> invocations,
        CancellationToken cancellation = default, Func<SessionRef, Tensor>? imports = null, bool modelWritesInPlace = true)
    {
        _imports = imports;
        // Nothing writes into module values in place when neither the model nor the graph (in-place writes, local code) does.
        _shareModuleValues = !modelWritesInPlace && !graph.Nodes.Any(node => node.Definition.Kind is OpKind.InPlace or OpKind.Local);
        _cancellation = cancellation;
        _graph = graph;
        _resolveModule = resolveModule;
        _invocations = invocations;
        var count = graph.Nodes.Count;
        _values = new object?[count];
        _done = new bool[count];
        _wholeModuleValue = new bool[count];
        _remainingUses = new int[count];
        _home = new ModuleAccess?[count];
        _pending = [.. Enumerable.Range(0, count)];
        _dependencies = [.. graph.Nodes.Select(node => node.Dependencies.Distinct().ToArray())];
        foreach (var node in graph.Nodes)
        {
            foreach (var dependency in _dependencies[node.Id])
            {
                _remainingUses[dependency]++;
            }
            _home[node.Id] = node.Definition.Kind == OpKind.InPlace && RootOf(node) is { Definition.Kind: OpKind.Getter } getter ? getter.Access : null;
        }
        PlanGradients();
    }

    /// <summary>The saved values by node id; the caller takes ownership once the run is over.</summary>
    public IReadOnlyDictionary<int, Tensor> Saved => _saved;

    /// <summary>Installs the hooks the graph needs on the model's modules.</summary>
    public void Install()
    {
        var accesses = _graph.Nodes.Where(node => node.Access is not null && IsAccess(node)).Select(node => node.Access!).ToList();
        foreach (var path in accesses.Where(access => access.Kind == AccessKind.Output).Select(access => access.Path).Distinct())
        {
            _removers.Add(ModuleHooks.AddOutputHook(_resolveModule(path), (_, output) => OnOutput(path, output)));
        }
        foreach (var path in _graph.Nodes.Where(node => node.Definition == OpRegistry.Skip).Select(node => node.Access!.Path).Distinct())
        {
            _skippable[path] = _resolveModule(path);
        }
        // A skipped module's input hook offers its forward the skip value (see OfferSkip).
        foreach (var path in accesses.Where(access => access.Kind != AccessKind.Output).Select(access => access.Path).Concat(_skippable.Keys).Distinct())
        {
            _removers.Add(ModuleHooks.AddInputHook(_resolveModule(path), arguments => OnInput(path, arguments)));
        }
    }

    /// <summary>
    /// Runs what is still runnable after the model has finished, checks every access was reached, then runs the backward
    /// pass if the graph asks for one and checks every gradient was reached.
    /// </summary>
    /// <exception cref="ModuleNotCalledException">An access names a module call the run never made.</exception>
    /// <exception cref="GradientException">A gradient the backward pass never reached, or a loss that is not a scalar.</exception>
    public void Finish()
    {
        RunReady(point: null, value: null);
        var unreached = _pending.Select(id => _graph.Nodes[id]).FirstOrDefault(node => node.Access is not null && IsAccess(node) && !node.Optional);
        if (unreached is not null)
        {
            var access = unreached.Access!;
            var calls = (access.Kind == AccessKind.Output ? _outputCalls : _inputCalls).GetValueOrDefault(access.Path);
            throw new ModuleNotCalledException(
                $"{Where(unreached)}{access} in invocation {access.Invocation} was never reached: {Label(access.Path)} ran {calls} time(s) in this run" +
                (access.Call > 0 ? "; there are fewer forward passes than Next() calls." : "."));
        }
        RunBackward();
        RunReady(point: null, value: null);
        RequireGradientsReached();
    }

    /// <summary>Removes every hook; safe to call more than once.</summary>
    public void RemoveHooks()
    {
        foreach (var remove in _removers)
        {
            remove();
        }
        _removers.Clear();
        foreach (var module in _skippable.Values)
        {
            SkippedForward.Withdraw(module);
        }
    }

    /// <summary>Removes the hooks and disposes every value still held (saved values excepted).</summary>
    public void Dispose()
    {
        RemoveHooks();
        for (var id = 0; id < _values.Length; id++)
        {
            Release(id);
        }
    }

    /// <summary>Disposes the saved copies (after a failed run, when nobody will read them).</summary>
    public void DisposeSaved()
    {
        foreach (var tensor in _saved.Values)
        {
            tensor.Dispose();
        }
        _saved.Clear();
    }

    private object? OnOutput(string path, object? output)
    {
        if (_adHocDepth > 0)
        {
            return output;
        }
        if (_skippable.TryGetValue(path, out var skippable))
        {
            SkippedForward.Withdraw(skippable);
        }
        var point = new HookPoint(path, Output: true, NextCall(_outputCalls, path));
        var result = RunReady(point, TapModuleValues(point, output));
        StopIfDone();
        return result;
    }

    private object?[]? OnInput(string path, object?[] arguments)
    {
        if (_adHocDepth > 0)
        {
            return null;
        }
        var point = new HookPoint(path, Output: false, NextCall(_inputCalls, path));
        var before = new ArgumentTuple(arguments);
        var after = RunReady(point, TapModuleValues(point, before));
        StopIfDone();
        OfferSkip(point);
        return ReferenceEquals(after, before) ? null : ((ArgumentTuple)after!).Arguments;
    }

    /// <summary>
    /// When every invocation skips this call of the module and every skip value is ready, offers the values, joined
    /// along the batch, to the module's forward (see <see cref="SkippedForward"/>). The skip setters still run at the
    /// output, so a forward that does not take the offer gives the same result.
    /// </summary>
    private void OfferSkip(HookPoint input)
    {
        if (!_skippable.TryGetValue(input.Path, out var module))
        {
            return;
        }
        var skips = new Node?[_invocations.Count];
        foreach (var node in _pending.Select(id => _graph.Nodes[id]))
        {
            if (node.Definition == OpRegistry.Skip && node.Access!.Path == input.Path && node.Access.Call == input.Call)
            {
                if (!IsReady(node))
                {
                    return;
                }
                // An invocation's last skip is its output.
                skips[node.Access.Invocation] = node;
            }
        }
        if (skips.All(node => node is not null)
            && Values.TryJoinRows([.. skips.Select(node => Resolve(node!.Args[0]))], [.. _invocations.Select(rows => (long)rows.Count)], out var joined)
            && joined is not null)
        {
            SkippedForward.Offer(module, joined);
        }
    }

    /// <summary>Thrown from a hook to end the model's run early once a graph that asks for it (Stop()) has nothing left to run forward.</summary>
    internal sealed class StopRun : NnSightException
    {
        public StopRun() : base("The run stopped once every recorded node had run.")
        {
        }
    }

    private void StopIfDone()
    {
        if (_graph.StopWhenDone && _pending.All(_backwardPhase.Contains))
        {
            throw new StopRun();
        }
    }

    private static int NextCall(Dictionary<string, int> calls, string path)
    {
        var call = calls.GetValueOrDefault(path);
        calls[path] = call + 1;
        return call;
    }

    /// <summary>Where the executor is when it binds values: a module's hook, or a gradient tap.</summary>
    private abstract record Point;

    /// <summary>A module's call: its output (or inputs) in the forward pass.</summary>
    private sealed record HookPoint(string Path, bool Output, int Call) : Point
    {
        public bool Matches(ModuleAccess access) =>
            access.Path == Path && access.Call == Call && (access.Kind == AccessKind.Output) == Output;
    }

    /// <summary>
    /// Binds the accesses of <paramref name="point"/> and runs every ready node, in program order, until nothing more
    /// can run. Accesses of one invocation keep their order: a read after a set sees the set value.
    /// </summary>
    private object? RunReady(Point? point, object? value)
    {
        _cancellation.ThrowIfCancellationRequested();
        bool progress;
        do
        {
            progress = false;
            HashSet<int>? blockedInvocations = null;
            for (var position = 0; position < _pending.Count; position++)
            {
                var id = _pending[position];
                if (_done[id])
                {
                    continue;
                }
                var node = _graph.Nodes[id];
                var op = node.Definition;
                if (op.Kind is OpKind.Getter or OpKind.Setter)
                {
                    if (point is not HookPoint hook || !hook.Matches(node.Access!) || blockedInvocations?.Contains(node.Access!.Invocation) == true)
                    {
                        continue;
                    }
                    if (op.Kind == OpKind.Getter)
                    {
                        Complete(id, Own(RowsOf(Select(value, node.Access!.Kind), node.Access!.Invocation)));
                    }
                    else if (IsReady(node))
                    {
                        value = Set(value, node);
                        Complete(id, null);
                    }
                    else
                    {
                        (blockedInvocations ??= []).Add(node.Access!.Invocation);
                        continue;
                    }
                    progress = true;
                }
                else if (op.Kind is OpKind.GradientGetter or OpKind.GradientSetter)
                {
                    if (point is not GradientPoint gradient || _tapOf.GetValueOrDefault(id, -1) != gradient.Tap)
                    {
                        continue;
                    }
                    if (op.Kind == OpKind.GradientGetter)
                    {
                        Complete(id, Own(GradientOf((Tensor)value!, id)));
                    }
                    else if (IsReady(node))
                    {
                        SetGradient((Tensor)value!, node);
                        Complete(id, null);
                    }
                    else
                    {
                        continue;
                    }
                    progress = true;
                }
                else if (op.Kind != OpKind.Backward && IsReady(node))
                {
                    Complete(id, Execute(node, op));
                    progress = true;
                }
            }
        }
        while (progress);
        _pending.RemoveAll(id => _done[id]);

        if (point is HookPoint hookPoint)
        {
            var stuck = _pending.Select(id => _graph.Nodes[id])
                .FirstOrDefault(node => (IsSetter(node) && hookPoint.Matches(node.Access!)) || (_home[node.Id] is { } home && hookPoint.Matches(home)));
            if (stuck is not null)
            {
                throw OutOfOrder(stuck);
            }
        }
        else if (point is GradientPoint gradientPoint)
        {
            var stuck = _pending.Select(id => _graph.Nodes[id]).FirstOrDefault(node =>
                _tapOf.GetValueOrDefault(_gradientHome.GetValueOrDefault(node.Id, node.Id), -1) == gradientPoint.Tap
                && node.Definition.Kind is OpKind.GradientSetter or OpKind.InPlace);
            if (stuck is not null)
            {
                throw GradientOutOfOrder(stuck);
            }
        }
        return value;
    }

    private OutOfOrderException OutOfOrder(Node stuck)
    {
        var target = IsSetter(stuck) ? stuck.Access! : _home[stuck.Id]!;
        var blocking = Blocking(stuck);
        var source = blocking switch
        {
            null => "a value that is not computed yet",
            { Access: { } access } => $"{Label(access.Path)} ({access})",
            _ => $"{Describe(blocking)}, a gradient of the backward pass,",
        };
        return new OutOfOrderException(
            $"{Where(stuck)}{target} in invocation {target.Invocation} is set from {source} which the forward pass computes only " +
            $"after {Label(target.Path)} has run; a module's value can only be set from modules that run before it.");
    }

    private Node? Blocking(Node node)
    {
        foreach (var dependency in node.Dependencies)
        {
            var argument = _graph.Nodes[dependency];
            if (_done[dependency])
            {
                continue;
            }
            if ((argument.Access is not null && IsAccess(argument)) || argument.Definition.Kind == OpKind.GradientGetter)
            {
                return argument;
            }
            if (Blocking(argument) is { } deeper)
            {
                return deeper;
            }
        }
        return null;
    }

    private bool IsReady(Node node)
    {
        foreach (var dependency in _dependencies[node.Id])
        {
            if (!_done[dependency])
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsAccess(Node node) => node.Definition.Kind is OpKind.Getter or OpKind.Setter;

    private static bool IsSetter(Node node) => node.Definition.Kind == OpKind.Setter;

    private void Complete(int id, object? value)
    {
        _done[id] = true;
        var node = _graph.Nodes[id];
        value = TapComputedValue(id, value);
        _wholeModuleValue[id] = IsWholeModuleValue(node);
        if (node.Saved || node.Kept)
        {
            _saved[id] = Shares(node) ? SaveShared(node, value) : SaveCopy(node, value);
        }
        _values[id] = value;
        foreach (var dependency in _dependencies[id])
        {
            if (--_remainingUses[dependency] == 0)
            {
                Release(dependency);
            }
        }
        if (_remainingUses[id] == 0)
        {
            Release(id);
        }
    }

    private void Release(int id)
    {
        foreach (var tensor in Values.Tensors(_values[id]))
        {
            tensor.Dispose();
        }
        _values[id] = null;
    }

    /// <summary>
    /// Whether a saved value may share the module's tensor instead of copying it (nnsight keeps references too): a whole
    /// module value (a getter's, or a tensor of a module's tuple) when nothing writes into it later. Slices and computed
    /// values are copied, so a small saved slice never keeps a large tensor alive.
    /// </summary>
    private bool Shares(Node node) => _shareModuleValues && _wholeModuleValue[node.Id];

    /// <summary>Whether a node's value is a module's whole value: a getter's, or an element of such a tuple.</summary>
    private bool IsWholeModuleValue(Node node) => node.Definition.Kind == OpKind.Getter
        || node.Definition.Kind == OpKind.Element && node.Args[0] is NodeRef parent && _wholeModuleValue[parent.Id] && _values[parent.Id] is not Tensor;

    private static Tensor SaveCopy(Node node, object? value) => RequireTensor(node, value).detach().clone().DetachFromDisposeScope();

    private static Tensor SaveShared(Node node, object? value) => RequireTensor(node, value).detach().DetachFromDisposeScope();

    private static Tensor RequireTensor(Node node, object? value) => value as Tensor ?? throw new InterventionException(
        $"{Where(node)}Save() needs a tensor, but this value is {Values.Describe(value)}; save its elements ([0], [1], ...) instead.");

    /// <summary>Takes ownership of every tensor of <paramref name="value"/>: out of any dispose scope, disposed by us.</summary>
    private static object? Own(object? value)
    {
        foreach (var tensor in Values.Tensors(value))
        {
            tensor.DetachFromDisposeScope();
        }
        return value;
    }

    private static object? Select(object? value, AccessKind kind) => kind == AccessKind.Input ? ((ArgumentTuple)value!)[0] : value;

    private object? RowsOf(object? value, int invocation)
    {
        var rows = _invocations[invocation];
        return Values.Map(value, tensor => tensor.narrow(0, rows.Start, rows.Count));
    }

    private object? Set(object? value, Node setter)
    {
        var access = setter.Access!;
        var replacement = Resolve(setter.Args[0]);
        var path = (long[])setter.Args[1]!;
        if (access.Kind == AccessKind.Input)
        {
            path = [0, .. path];
        }
        return SetAt(value, path, 0, replacement, _invocations[access.Invocation], setter);
    }

    /// <summary>The value with the invocation's rows at <paramref name="path"/> replaced: tuples are rebuilt, tensors copied.</summary>
    private object? SetAt(object? current, long[] path, int depth, object? replacement, InvocationRows rows, Node setter)
    {
        if (current is ITuple tuple && depth < path.Length)
        {
            var element = Values.Element(tuple, path[depth], Label(setter.Access!.Path));
            return Values.WithElement(tuple, path[depth], SetAt(element, path, depth + 1, replacement, rows, setter), Label(setter.Access!.Path));
        }
        if (current is ITuple whole && depth == path.Length && replacement is ITuple parts && whole.Length == parts.Length)
        {
            return Values.Rebuild(whole, [.. Enumerable.Range(0, whole.Length).Select(i => SetAt(whole[i], [], 0, parts[i], rows, setter))]);
        }
        if (current is not Tensor tensor)
        {
            throw new ShapeMismatchException($"{Where(setter)}{Describe(setter)} is {Values.Describe(current)} and cannot be set to {Values.Describe(replacement)}.");
        }
        var result = tensor.clone();
        using var target = result.narrow(0, rows.Start, rows.Count);
        using var slot = path.Length > depth ? target.index([.. path[depth..].Select(position => TensorIndex.Single(position))]) : target.alias();
        try
        {
            switch (replacement)
            {
                case Tensor values:
                    slot.copy_(values);
                    break;
                case double or long or int or bool:
                    slot.fill_(replacement switch { double d => d, long l => l, int i => i, _ => (bool)replacement ? 1 : 0 });
                    break;
                default:
                    throw new ShapeMismatchException($"{Where(setter)}{Describe(setter)} cannot be set to {Values.Describe(replacement)}.");
            }
        }
        catch (ExternalException)
        {
            result.Dispose();
            throw new ShapeMismatchException(
                $"{Where(setter)}{Describe(setter)} has shape {Shapes.Format(slot.shape)} in invocation {setter.Access!.Invocation}, " +
                $"which a value of shape {Values.Describe(replacement)} cannot replace.");
        }
        return result;
    }

    private object? Execute(Node node, OpDefinition op)
    {
        try
        {
            return op.Kind switch
            {
                OpKind.Function => Own(Fresh(op.Run!(ResolveAll(node.Args)), node)),
                OpKind.Element => Own(ElementOf(node)),
                OpKind.InPlace => Own(WriteInPlace(node)),
                OpKind.Token => Own(TokensOf(node)),
                OpKind.ModuleCall => Own(CallModule(node)),
                OpKind.Local => Own(Fresh(node.LocalFunction!((Tensor)Resolve(node.Args[0])!), node)),
                OpKind.Import => Own(Imported((SessionRef)node.Args[0]!).alias()),
                _ => throw new InvalidOperationException($"{op.Kind} nodes are bound by hooks."),
            };
        }
        catch (Exception error) when (error is not NnSightException)
        {
            throw new InterventionException($"{Where(node)}{Describe(node)} failed: {FirstLine(error.Message)}", error);
        }
    }

    /// <summary>A result that is one of the node's own arguments gets a handle of its own, so each value is disposed once.</summary>
    private object? Fresh(object? result, Node node)
    {
        var arguments = node.Dependencies.SelectMany(dependency => Values.Tensors(_values[dependency])).ToHashSet(ReferenceEqualityComparer.Instance);
        return Values.Map(result, tensor => arguments.Contains(tensor) ? tensor.alias() : tensor);
    }

    private object? ElementOf(Node node)
    {
        var target = Resolve(node.Args[0]);
        var index = (long)node.Args[1]!;
        return target is ITuple tuple
            ? Values.Map(Values.Element(tuple, index, Describe(_graph.Nodes[((NodeRef)node.Args[0]!).Id])), tensor => tensor.alias())
            : ((Tensor)target!)[index];
    }

    private object? WriteInPlace(Node node)
    {
        var target = (Tensor)Resolve(node.Args[0])!;
        var indices = ((IndexSpec[])node.Args[1]!).Select(index => index.ToTensorIndex()).ToArray();
        var value = Resolve(node.Args[2]);
        try
        {
            switch (value)
            {
                case Tensor tensor:
                    target.index_put_(tensor, indices);
                    break;
                default:
                    target.index_put_(value switch { double d => d, long l => l, int i => i, bool b => b ? 1 : 0, _ => throw new ArgumentException($"cannot write {Values.Describe(value)}") }, indices);
                    break;
            }
        }
        catch (ExternalException error)
        {
            throw new ShapeMismatchException(
                $"{Where(node)}{Describe(_graph.Nodes[((NodeRef)node.Args[0]!).Id])}{IndexSpec.Format((IndexSpec[])node.Args[1]!)} " +
                $"of {Shapes.Format(target.shape)} cannot be set to a value of shape {Values.Describe(value)}: {FirstLine(error.Message)}");
        }
        return target.alias();
    }

    private object? TokensOf(Node node)
    {
        var target = (Tensor)Resolve(node.Args[0])!;
        var selector = (TokenSelector)node.Args[1]!;
        var rows = _invocations[(int)(long)node.Args[2]!];
        return TokenSelection.Select(target, selector, rows.RealLengths);
    }

    private object? CallModule(Node node)
    {
        var module = _resolveModule(node.Access!.Path);
        var arguments = ((IEnumerable<object?>)node.Args[0]!).Select(Resolve).ToArray();
        _adHocDepth++;
        try
        {
            return Fresh(ModuleHooks.Invoke(module, arguments), node);
        }
        finally
        {
            _adHocDepth--;
        }
    }

    private Tensor Imported(SessionRef reference) =>
        _imports?.Invoke(reference) ?? throw new TracingException($"A value of another trace ({reference}) can only be read inside a session.");

    private object?[] ResolveAll(IReadOnlyList<object?> arguments) => [.. arguments.Select(Resolve)];

    private object? Resolve(object? argument) => argument switch
    {
        NodeRef reference => _values[reference.Id],
        List<object?> list => list.Select(Resolve).ToList(),
        _ => argument,
    };

    /// <summary>The value a write into a view lands in: found by following view ops back (a getter, a gradient, ...).</summary>
    private Node RootOf(Node node)
    {
        var current = node;
        while (current.Definition.IsView && current.Args.Count > 0 && current.Args[0] is NodeRef source)
        {
            current = _graph.Nodes[source.Id];
        }
        return current;
    }

    private string Describe(Node node) => NodeDescriptions.Describe(_graph, node);

    private static string Label(string path) => path.Length == 0 ? "the model" : path;

    private static string Where(Node node) => node.Source is null ? "" : $"{node.Source}: ";

    private static string FirstLine(string message) => message.Split('\n')[0];
}
