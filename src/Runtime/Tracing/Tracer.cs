using NnSight.Intervention;
using static TorchSharp.torch;

namespace NnSight;

/// <summary>
/// A tracing context (nnsight's tracer). Inside it, <c>Invoke</c> blocks record accesses and operations into an
/// intervention graph; nothing runs. Disposing the context batches every invocation with left padding, runs the model
/// with hooks on the modules the graph touches, removes the hooks (always), and fills the saved values. If an exception
/// is propagating out of the blocks, disposing runs nothing and the model is left as it was; a context that begins inside
/// a <c>catch</c> block, or in a <c>finally</c> block during unwinding, still runs (a retry or a fallback).
/// See docs/architecture.md#recording-envoys-proxies-and-the-tracer.
/// </summary>
public class Tracer : IDisposable, IInvocationSizes
{
    private readonly RemoteSettings? _remote;
    private readonly ExceptionWatch _exceptions = new();
    private readonly List<(InvocationInput Input, IReadOnlyList<TokenRow> Rows)> _invocations = [];
    private ShapeInference? _shapes;
    private Tensor? _output;
    private IReadOnlyDictionary<int, Tensor>? _saved;
    private TracerState _state;

    internal Tracer(NnSightModel model, GenerationOptions? generation, RemoteSettings? remote = null)
    {
        Model = model;
        Generation = generation;
        _remote = remote;
    }

    private enum TracerState
    {
        Recording,
        InSession,
        Submitted,
        Executed,
        Failed,
        Abandoned,
    }

    /// <summary>The session this trace belongs to, and its position there; null outside a session.</summary>
    private Session? _session;

    private readonly Dictionary<SessionRef, NodeRef> _imports = [];

    internal int SessionIndex { get; private set; }

    /// <summary>Makes this trace the next one of <paramref name="session"/>.</summary>
    internal void JoinSession(Session session)
    {
        if (_remote is not null)
        {
            throw new TracingException("A trace inside a session runs where the session runs: pass remote: or server: to model.Session(...), not to the trace.");
        }
        _session = session;
        SessionIndex = session.Join(this);
    }

    /// <summary>The model being traced.</summary>
    public NnSightModel Model { get; }

    /// <summary>The recorded graph. Its tensor constants are released when the context ends: serialize it before.</summary>
    public InterventionGraph Graph { get; } = new();

    /// <summary>The generation options, or null for a single forward pass.</summary>
    public GenerationOptions? Generation { get; }

    /// <summary>The remote job of a remote context once it is disposed (poll it, or <c>Wait()</c> for a non-blocking one).</summary>
    public RemoteJob? Job { get; private set; }

    /// <summary>The inputs of the invocations recorded so far, in order.</summary>
    public IReadOnlyList<InvocationInput> Inputs => [.. _invocations.Select(invocation => invocation.Input)];

    /// <summary>
    /// After the run, the model's primary output for the whole batch (the logits of a trace), owned by the caller.
    /// </summary>
    /// <exception cref="ValueNotReadyException">The context has not run yet, its run failed, or it stopped early.</exception>
    public Tensor Output => _output ?? throw new ValueNotReadyException(
        _state switch
        {
            TracerState.Recording => "The output exists once the tracing context is disposed (the model runs then).",
            TracerState.Submitted => $"Remote job {Job!.Id} has not been waited for: call tracer.Job.Wait().",
            TracerState.InSession => "This trace runs when its session is disposed; its output exists after that.",
            TracerState.Executed when Graph.StopWhenDone => "The run stopped early (Stop()), so the model produced no output; the saved values are there.",
            _ => "The run did not complete, so there is no output.",
        });

    /// <summary>
    /// Ends the forward pass (or the generation) as soon as every node recorded in this context has run: modules after
    /// the last one the graph needs do not run. Hooks are removed and saved values are valid as usual; there is no
    /// <see cref="Output"/>.
    /// </summary>
    public void Stop()
    {
        RequireRecording();
        Graph.StopWhenDone = true;
    }

    internal Invoker? CurrentInvoker { get; private set; }

    /// <summary>Every node recorded inside <c>All()</c>/<c>Steps()</c>, by id: its copies for each step, in step order.</summary>
    private readonly Dictionary<int, IReadOnlyList<int>> _stepCopies = [];

    private StepScope? _stepScope;
    private bool _recordingEdit;

    /// <summary>Starts an invocation on one text.</summary>
    public Invoker Invoke(string prompt) => Invoke(new InvocationInput.Text([prompt]));

    /// <summary>Starts an invocation on several texts, one batch row each.</summary>
    public Invoker Invoke(params string[] prompts) => Invoke(new InvocationInput.Text(prompts));

    /// <summary>Starts an invocation on token ids, used exactly as given.</summary>
    public Invoker Invoke(long[] ids) => Invoke(new InvocationInput.Ids([new TokenRow(ids)]));

    /// <summary>Starts an invocation on token ids as a tokenizer returns them, used exactly as given.</summary>
    public Invoker Invoke(int[] ids) => Invoke((InvocationInput)ids);

    /// <summary>Starts an invocation on ids <c>[seq]</c> or <c>[rows, seq]</c> with an optional attention mask.</summary>
    public Invoker Invoke(Tensor ids, Tensor? attentionMask = null) => Invoke(InvocationInput.FromTensor(ids, attentionMask));

    /// <summary>Records <paramref name="body"/> as an invocation on <paramref name="input"/> (a text, texts, ids or an ids tensor).</summary>
    public void Invoke(InvocationInput input, Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Invoke(input, _ => body());
    }

    /// <summary>Records <paramref name="body"/> as an invocation on <paramref name="input"/>; the body gets the invoker (for <see cref="Invoker.Next"/>).</summary>
    public void Invoke(InvocationInput input, Action<Invoker> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var invoker = Invoke(input);
        body(invoker);
    }

    /// <summary>Starts an invocation on <paramref name="input"/>; it is tokenized now, so shapes are known.</summary>
    public Invoker Invoke(InvocationInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        RequireRecording();
        if (CurrentInvoker is not null)
        {
            throw new TracingException("Invoke blocks cannot be nested; end the current one first.");
        }
        _invocations.Add((input, Model.PrepareInput(input)));
        CurrentInvoker = new Invoker(this, _invocations.Count - 1);
        return CurrentInvoker;
    }

    /// <summary>Runs the recorded graph (on the outermost context's dispose), unless an exception is propagating.</summary>
    public void Dispose()
    {
        if (_state != TracerState.Recording)
        {
            if (ReferenceEquals(Model.ActiveTracer, this))
            {
                Model.ActiveTracer = null;
            }
            return;
        }
        try
        {
            if (_exceptions.IsPropagating)
            {
                _state = TracerState.Abandoned;
                return;
            }
            if (CurrentInvoker is not null)
            {
                throw new TracingException("The tracing context was disposed inside an Invoke block; dispose the invoker first.");
            }
            if (_session is not null)
            {
                _state = TracerState.InSession;
                return;
            }
            Execute();
        }
        finally
        {
            if (_state != TracerState.InSession)
            {
                Graph.Dispose();
            }
            Model.ActiveTracer = null;
            GC.SuppressFinalize(this);
        }
    }

    /// <summary>The saved value of <paramref name="proxy"/> after the run.</summary>
    internal Tensor SavedValue(TensorProxy proxy)
    {
        if (_stepCopies.ContainsKey(proxy.Node.Id))
        {
            throw new TracingException(
                $"{proxy.Where}{proxy.Describe()} was recorded inside All()/Steps() and has one value per step: read Values.");
        }
        return SavedValueOf(proxy, proxy.Node.Id);
    }

    /// <summary>The saved values of a proxy recorded inside All()/Steps(), one per step the run reached.</summary>
    internal IReadOnlyList<Tensor> SavedValues(TensorProxy proxy)
    {
        if (!_stepCopies.TryGetValue(proxy.Node.Id, out var copies))
        {
            throw new TracingException($"{proxy.Where}{proxy.Describe()} was not recorded inside All() or Steps(): read Value.");
        }
        if (!proxy.Node.Saved)
        {
            throw new ValueNotSavedException($"{proxy.Where}{proxy.Describe()} was never saved: call .Save() on it inside the trace to keep its values.");
        }
        var values = new List<Tensor>();
        foreach (var id in copies)
        {
            if (_state == TracerState.Executed && _saved?.ContainsKey(id) != true)
            {
                break;
            }
            values.Add(SavedValueOf(proxy, id));
        }
        return values;
    }

    private Tensor SavedValueOf(TensorProxy proxy, int id)
    {
        if (_state == TracerState.Recording)
        {
            throw new ValueNotReadyException(
                $"{proxy.Where}{proxy.Describe()} is not ready: the model runs when the outermost tracing context is disposed.");
        }
        if (_state == TracerState.Submitted)
        {
            throw new ValueNotReadyException($"{proxy.Where}{proxy.Describe()} is not ready: remote job {Job!.Id} has not been waited for; call tracer.Job.Wait().");
        }
        if (_state == TracerState.InSession)
        {
            throw new ValueNotReadyException($"{proxy.Where}{proxy.Describe()} is not ready: the traces of a session run when the session is disposed.");
        }
        if (!proxy.Node.Saved)
        {
            throw new ValueNotSavedException($"{proxy.Where}{proxy.Describe()} was never saved: call .Save() on it inside the trace to keep its value.");
        }
        if (_saved is null || !_saved.TryGetValue(id, out var value))
        {
            throw new ValueNotReadyException($"{proxy.Where}{proxy.Describe()} has no value: the run did not complete.");
        }
        return value;
    }

    /// <summary>Opens a scope whose recordings are copied, when it ends, to every step of <paramref name="steps"/>.</summary>
    internal IDisposable BeginSteps(Invoker invoker, Range steps)
    {
        RequireRecording();
        if (!ReferenceEquals(CurrentInvoker, invoker))
        {
            throw new TracingException("All() and Steps() belong to the invocation that is open; call them inside its Invoke block.");
        }
        RequireNoStepScope("All() or Steps()");
        var total = Generation?.MaxNewTokens ?? 1;
        var (start, count) = (steps.Start.GetOffset(total), steps.End.GetOffset(total) - steps.Start.GetOffset(total));
        if (start < 0 || count < 1 || start + count > total)
        {
            throw new TracingException(
                $"Steps({steps}) covers no step of this run, which has {total} forward pass(es) (steps 0 to {total - 1}).");
        }
        _stepScope = new StepScope(this, invoker, invoker.Step, [.. Enumerable.Range(start, count)], Graph.Nodes.Count);
        invoker.Step = start;
        return _stepScope;
    }

    /// <summary>Marks <paramref name="node"/> saved, with its step copies.</summary>
    internal void MarkSaved(Node node)
    {
        foreach (var id in _stepCopies.TryGetValue(node.Id, out var copies) ? copies : [node.Id])
        {
            Graph.Nodes[id].Saved = true;
        }
    }

    internal void RequireNoStepScope(string what)
    {
        if (_stepScope is not null)
        {
            throw new TracingException($"{what} cannot be used inside All() or Steps(): the scope already covers its steps.");
        }
    }

    /// <summary>
    /// Ends a step scope: every node recorded in it is marked optional (a generation may end before a step) and copied
    /// for each further step, module accesses moved to that step and references inside the scope to the step's copies.
    /// </summary>
    private void EndSteps(StepScope scope)
    {
        _stepScope = null;
        scope.Invoker.Step = scope.ResumeStep;
        if (_exceptions.IsPropagating)
        {
            return;
        }
        var templates = Graph.Nodes.Skip(scope.FirstNode).ToList();
        var copies = templates.ToDictionary(template => template.Id, template => new List<int> { template.Id });
        foreach (var template in templates)
        {
            template.Optional = true;
        }
        foreach (var step in scope.Steps.Skip(1))
        {
            var ids = new Dictionary<int, int>();
            foreach (var template in templates)
            {
                var copy = Graph.AddCopy(template, reference => ids.TryGetValue(reference.Id, out var id) ? new NodeRef(id) : reference,
                    template.Access is { } access ? access with { Call = step } : null);
                ids[template.Id] = copy.Id;
                copies[template.Id].Add(copy.Id);
            }
        }
        foreach (var (template, ids) in copies)
        {
            _stepCopies[template] = ids;
        }
    }

    /// <summary>An open <c>All()</c>/<c>Steps()</c> scope.</summary>
    private sealed class StepScope(Tracer tracer, Invoker invoker, int resumeStep, IReadOnlyList<int> steps, int firstNode) : IDisposable
    {
        public Invoker Invoker { get; } = invoker;

        public int ResumeStep { get; } = resumeStep;

        public IReadOnlyList<int> Steps { get; } = steps;

        public int FirstNode { get; } = firstNode;

        public void Dispose()
        {
            if (ReferenceEquals(tracer._stepScope, this))
            {
                tracer.EndSteps(this);
            }
        }
    }

    internal void EndInvocation(Invoker invoker)
    {
        if (ReferenceEquals(CurrentInvoker, invoker))
        {
            CurrentInvoker = null;
        }
    }

    /// <summary>Appends a node made at <paramref name="source"/> (the user's line of the call).</summary>
    internal TensorProxy Record(OpDefinition op, IReadOnlyList<object?> args, SourceLocation? source, ModuleAccess? access = null,
        Func<Tensor, Tensor>? localFunction = null)
    {
        RequireRecording();
        return new TensorProxy(this, Graph.Add(op.Name, args, access, source, localFunction));
    }

    internal TensorProxy Access(OpDefinition getter, AccessKind kind, Envoy envoy) => AccessAt(getter, kind, envoy, CallSites.Capture());

    private TensorProxy AccessAt(OpDefinition getter, AccessKind kind, Envoy envoy, SourceLocation? source)
    {
        var invoker = RequireInvoker(envoy, getter.Name);
        return Record(getter, [], source, RequireNotInsideSkipped(envoy, new ModuleAccess(envoy.Path, kind, invoker.Index, invoker.Step), source));
    }

    /// <summary>The modules skipped so far, by invocation and step.</summary>
    private readonly List<ModuleAccess> _skips = [];

    /// <summary>
    /// Refuses an access to a submodule of a module this invocation skips at that step: in nnsight a skipped module's
    /// submodules do not run.
    /// </summary>
    private ModuleAccess RequireNotInsideSkipped(Envoy envoy, ModuleAccess access, SourceLocation? source)
    {
        if (_skips.FirstOrDefault(skip => skip.Invocation == access.Invocation && skip.Call == access.Call
            && access.Path.StartsWith(skip.Path + ".", StringComparison.Ordinal)) is { } skipped)
        {
            throw new TracingException(
                $"{(source is null ? "" : $"{source}: ")}{envoy.Label} is inside {skipped.Path}, which invocation {access.Invocation} skips: the submodules of a skipped module do not run.");
        }
        return access;
    }

    internal bool HasStepCopies(int id) => _stepCopies.ContainsKey(id);

    /// <summary>
    /// Keeps the output of every module (the model's, or those of <paramref name="subtrees"/> and their descendants) in
    /// this invocation's rows, each tensor of a tuple output separately; during a generation, at every step from the
    /// current one. Read it after the run through the returned cache.
    /// </summary>
    /// <exception cref="TracingException">Called outside an Invoke block.</exception>
    public ActivationCache Cache(params Envoy[] subtrees) => Cache(false, subtrees);

    /// <summary>As <see cref="Cache(Envoy[])"/>; with <paramref name="inputs"/>, every module's positional arguments too.</summary>
    public ActivationCache Cache(bool inputs, params Envoy[] subtrees)
    {
        ArgumentNullException.ThrowIfNull(subtrees);
        RequireRecording();
        var invoker = CurrentInvoker ?? throw new TracingException("tracer.Cache(...) belongs to an invocation: call it inside an Invoke block.");
        var source = CallSites.Capture();
        var modules = (subtrees.Length == 0 ? [Model.Root] : subtrees).SelectMany(Subtree)
            .Where(envoy => ModuleHooks.IsCallable(envoy.Module)).DistinctBy(envoy => envoy.Path).ToList();
        var steps = _stepScope is null && Generation is not null ? BeginSteps(invoker, invoker.Step..) : null;
        var recorded = new Dictionary<string, (CachedValue Output, CachedValue? Inputs)>(StringComparer.Ordinal);
        try
        {
            foreach (var envoy in modules)
            {
                recorded[envoy.Path] = (Leaves(AccessAt(OpRegistry.Output, AccessKind.Output, envoy, source), source),
                    inputs ? Leaves(AccessAt(OpRegistry.Inputs, AccessKind.Inputs, envoy, source), source) : null);
            }
        }
        finally
        {
            steps?.Dispose();
        }
        return new ActivationCache(recorded);
    }

    private static IEnumerable<Envoy> Subtree(Envoy root) => [root, .. root.Children.SelectMany(Subtree)];

    /// <summary>Saves every tensor of a value, following its tuple structure as the shape rules give it.</summary>
    private CachedValue Leaves(TensorProxy value, SourceLocation? source)
    {
        ValueShape? shape;
        try
        {
            shape = ShapeOf(value.Node);
        }
        catch (ShapeUnknownException)
        {
            shape = null;
        }
        return shape is TupleShape tuple
            ? new CachedValue([.. tuple.Elements.Select((element, index) => element is null ? CachedValue.NotCached : Leaves(value.Element(index, source), source))])
            : new CachedValue(value.Save());
    }

    internal void Assign(OpDefinition getter, AccessKind kind, Envoy envoy, TensorProxy value)
    {
        var invoker = RequireInvoker(envoy, getter.Name);
        var source = CallSites.Capture();
        Record(OpRegistry.SetterOf(getter), [Argument(value), Array.Empty<long>()], source,
            RequireNotInsideSkipped(envoy, new ModuleAccess(envoy.Path, kind, invoker.Index, invoker.Step), source));
    }

    /// <summary>Records that <paramref name="envoy"/>'s output is <paramref name="value"/>, refusing a structure the rules know differs.</summary>
    internal void Skip(Envoy envoy, TensorProxy value, SourceLocation? source)
    {
        var invoker = RequireInvoker(envoy, "Skip");
        var access = RequireNotInsideSkipped(envoy, new ModuleAccess(envoy.Path, AccessKind.Output, invoker.Index, invoker.Step), source);
        if (Graph.Nodes.FirstOrDefault(node => node.Access is { } used && used.Invocation == access.Invocation && used.Call == access.Call
            && used.Path.StartsWith(access.Path + ".", StringComparison.Ordinal))?.Access is { } inside)
        {
            throw new TracingException(
                $"{(source is null ? "" : $"{source}: ")}{envoy.Label}.Skip(...) comes after a use of {inside.Path} in invocation {access.Invocation}, but the submodules of a skipped module do not run.");
        }
        if (Graph.Nodes.Any(node => node.Definition.Kind == OpKind.Getter && node.Access == access))
        {
            throw new TracingException(
                $"{(source is null ? "" : $"{source}: ")}{envoy.Label}.Skip(...) comes after a read of {envoy.Label}.Output in invocation {access.Invocation}, but a skipped module has no output of its own: read it after Skip() to get the value it is skipped with.");
        }
        var replacement = Argument(value);
        if (KnownShape(() => Inference.OfAccess(access)) is { } expected
            && KnownShape(() => replacement is NodeRef reference ? ShapeOf(Graph.Nodes[reference.Id]) : new TensorShape(((Tensor)replacement!).shape, ((Tensor)replacement).dtype)) is { } actual
            && !Shapes.SameStructure(expected, actual))
        {
            throw new ShapeMismatchException(
                $"{(source is null ? "" : $"{source}: ")}{envoy.Label}.Skip(...) replaces an output of {expected} in invocation {invoker.Index} with a value of {actual}.");
        }
        Record(OpRegistry.Skip, [replacement, Array.Empty<long>()], source, access);
        _skips.Add(access);
    }

    private static ValueShape? KnownShape(Func<ValueShape> shape)
    {
        try
        {
            return shape();
        }
        catch (Exception error) when (error is ShapeUnknownException or InvalidCastException)
        {
            return null;
        }
    }

    internal TensorProxy CallModule(Envoy envoy, IReadOnlyList<object?> arguments, SourceLocation? source)
    {
        var invoker = RequireInvoker(envoy, "Call");
        if (!ModuleHooks.IsCallable(envoy.Module))
        {
            throw new TracingException($"{envoy.Label} is a {ModuleTreePrinter.TypeName(envoy.Module)} and cannot be called.");
        }
        return Record(OpRegistry.Call, [arguments.Select(Argument).ToList()], source, new ModuleAccess(envoy.Path, AccessKind.Output, invoker.Index, invoker.Step));
    }

    /// <summary>A graph argument for a value: a node reference for a proxy; tensors and numbers as constants.</summary>
    internal object? Argument(object? value) => value switch
    {
        TensorProxy { IsConstant: true } constant => Argument(constant.Constant),
        TensorProxy proxy when ReferenceEquals(proxy.Tracer, this) => new NodeRef(proxy.Node.Id),
        TensorProxy proxy when _session is not null && ReferenceEquals(proxy.Tracer._session, _session) && proxy.Tracer.SessionIndex < SessionIndex => Import(proxy),
        TensorProxy => throw new TracingException("A proxy from another tracing context cannot be used in this one."),
        Tensor tensor => tensor.alias().DetachFromDisposeScope(),
        int number => (long)number,
        float number => (double)number,
        _ => value,
    };

    internal ValueShape ShapeOf(Node node) => Inference.Of(node);

    private ShapeInference Inference => _shapes ??= new ShapeInference(Graph, Model, this, reference => _session!.ShapeOf(reference));

    /// <summary>A node of this trace reading <paramref name="proxy"/>'s value, which its earlier trace keeps for the session.</summary>
    private NodeRef Import(TensorProxy proxy)
    {
        if (proxy.Tracer._state == TracerState.Abandoned)
        {
            throw new TracingException($"{proxy.Where}{proxy.Describe()} belongs to an earlier trace of this session whose recording failed.");
        }
        var reference = new SessionRef(proxy.Tracer.SessionIndex, proxy.Node.Id);
        if (!_imports.TryGetValue(reference, out var imported))
        {
            proxy.Node.Kept = true;
            imported = _imports[reference] = new NodeRef(Record(OpRegistry.SessionValue, [reference], proxy.Node.Source).Node.Id);
        }
        return imported;
    }

    /// <summary>The rows and padded length of the invocations tokenized so far, for shape rules.</summary>
    (int Rows, int PaddedLength, IReadOnlyList<long> RealLengths) IInvocationSizes.InvocationSizes(int invocation) => _recordingEdit
        ? throw new ShapeUnknownException("An edit has no input of its own: its shapes are known only in the traces it applies to.")
        : new FixedInvocationSizes([.. _invocations.Select(item => item.Rows)], Generation).InvocationSizes(invocation);

    /// <summary>Opens the input-less invocation an edit is recorded in (see <see cref="NnSightModel.EditInPlace"/>).</summary>
    internal Invoker BeginEdit()
    {
        _recordingEdit = true;
        CurrentInvoker = new Invoker(this, 0);
        return CurrentInvoker;
    }

    /// <summary>Ends an edit's recording: the graph passes to the caller, and this tracer never runs.</summary>
    internal InterventionGraph TakeGraph()
    {
        _state = TracerState.Abandoned;
        return Graph;
    }

    private Invoker RequireInvoker(Envoy envoy, string what)
    {
        RequireRecording();
        if (!ModuleHooks.IsCallable(envoy.Module) && what != "Call")
        {
            throw new TracingException($"{envoy.Label} is a {ModuleTreePrinter.TypeName(envoy.Module)}, which is never called itself; index it (for example [0]) first.");
        }
        if (CurrentInvoker is null)
        {
            var source = CallSites.Capture();
            throw new TracingException(
                $"{(source is null ? "" : $"{source}: ")}{envoy.Label}.{what} was used outside an Invoke block; module values belong to an invocation.");
        }
        return CurrentInvoker;
    }

    /// <summary>
    /// The trace an operation on a proxy of this one records in: this one, or, once this trace of a session has ended,
    /// the later trace of the session being recorded now (which reads the value from this one).
    /// </summary>
    internal Tracer Recorder =>
        _state == TracerState.InSession && Model.ActiveTracer is { } current && ReferenceEquals(current._session, _session) ? current : this;

    private void RequireRecording()
    {
        if (_state == TracerState.InSession)
        {
            throw new TracingException("This trace of the session has ended: later traces of the session can read its values, but not change them.");
        }
        if (_state != TracerState.Recording)
        {
            throw new TracingException("This tracing context has already run; start a new one with model.Trace() or model.Generate().");
        }
    }

    private void Execute()
    {
        if (_invocations.Count == 0)
        {
            _state = TracerState.Executed;
            return;
        }
        using var prepared = Prepare(mapImport: null);
        if (_remote is null)
        {
            Fill(GraphRunner.Run(Model, prepared.Trace.Graph, prepared.Trace.Invocations, Generation), prepared.Offset);
            return;
        }
        var job = RemoteJob.Submit(_remote, RemoteRequest(Model, [prepared]), results => Fill(results[0], prepared.Offset));
        Submitted(job);
        if (_remote.Blocking)
        {
            job.Wait();
        }
    }

    /// <summary>A trace ready to run: its graph with the model's edits first, where this trace's own nodes start in it.</summary>
    internal sealed record PreparedTrace(SessionTrace Trace, int Offset, bool OwnsGraph) : IDisposable
    {
        public void Dispose()
        {
            if (OwnsGraph)
            {
                Trace.Graph.Dispose();
            }
        }
    }

    /// <summary>
    /// Prepares the run; <paramref name="mapImport"/> moves session references to where earlier traces' nodes run. A trace
    /// without invocations, or one whose recording failed, prepares as an empty trace that runs nothing.
    /// </summary>
    internal PreparedTrace Prepare(Func<SessionRef, SessionRef>? mapImport)
    {
        if (_state == TracerState.Abandoned || _invocations.Count == 0)
        {
            return new PreparedTrace(new SessionTrace(new InterventionGraph(), [], Generation), 0, OwnsGraph: true);
        }
        _state = TracerState.Failed;
        var edited = WithEdits(out var offset, mapImport);
        return new PreparedTrace(new SessionTrace(edited ?? Graph, [.. _invocations.Select(invocation => invocation.Rows)], Generation), offset, edited is not null);
    }

    /// <summary>The request of a job running <paramref name="traces"/> on <paramref name="model"/>'s server id.</summary>
    internal static RemoteJobRequest RemoteRequest(NnSightModel model, IReadOnlyList<PreparedTrace> traces) =>
        new(RemoteProtocol.Version,
            model.RemoteId ?? throw new TracingException("This model has no RemoteId: set model.RemoteId to the id the server serves it under."),
            [.. traces.Select(prepared =>
            {
                using var graph = System.Text.Json.JsonDocument.Parse(GraphSerializer.Serialize(prepared.Trace.Graph));
                return new RemoteTrace(prepared.Trace.Invocations, prepared.Trace.Generation, graph.RootElement.Clone());
            })]);

    /// <summary>Fills the values from a run of the prepared graph whose own nodes start at <paramref name="offset"/>.</summary>
    internal void Fill(GraphResult result, int offset)
    {
        if (_state == TracerState.Abandoned)
        {
            return;
        }
        Fill(offset == 0 ? result
            : result with { Saved = result.Saved.Where(saved => saved.Key >= offset).ToDictionary(saved => saved.Key - offset, saved => saved.Value) });
    }

    /// <summary>Hands this session trace to the remote job that runs it.</summary>
    internal void Submitted(RemoteJob job)
    {
        Job = job;
        if (_state != TracerState.Abandoned)
        {
            _state = TracerState.Submitted;
        }
    }

    /// <summary>Marks a session trace as not run, because its session failed or was abandoned.</summary>
    internal void Abandon()
    {
        if (_state is TracerState.Recording or TracerState.InSession or TracerState.Failed)
        {
            _state = TracerState.Abandoned;
        }
    }

    /// <summary>
    /// The graph to run when the model has edits: each edit copied for every invocation and step (a step the generation
    /// may not reach is optional), then this trace's nodes, whose ids move up by <paramref name="offset"/>. Null without edits.
    /// </summary>
    private InterventionGraph? WithEdits(out int offset, Func<SessionRef, SessionRef>? mapImport)
    {
        offset = 0;
        if (Model.Edits.Count == 0)
        {
            return null;
        }
        var combined = new InterventionGraph { StopWhenDone = Graph.StopWhenDone };
        var steps = Generation?.MaxNewTokens ?? 1;
        foreach (var edit in Model.Edits)
        {
            for (var invocation = 0; invocation < _invocations.Count; invocation++)
            {
                for (var step = 0; step < steps; step++)
                {
                    var start = combined.Nodes.Count;
                    foreach (var node in edit.Nodes)
                    {
                        var copy = combined.AddCopy(node, reference => new NodeRef(reference.Id + start),
                            node.Access is { } access ? access with { Invocation = invocation, Call = step } : null);
                        copy.Saved = false;
                        copy.Optional = step > 0;
                    }
                }
            }
        }
        var shift = offset = combined.Nodes.Count;
        foreach (var node in Graph.Nodes)
        {
            combined.AddCopy(node, reference => new NodeRef(reference.Id + shift), node.Access, mapImport);
        }
        return combined;
    }

    private void Fill(GraphResult result)
    {
        _output = result.Output;
        _saved = result.Saved;
        _state = TracerState.Executed;
    }
}
