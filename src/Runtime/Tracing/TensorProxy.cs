using System.Runtime.CompilerServices;
using NnSight.Intervention;
using static TorchSharp.torch;

namespace NnSight;

/// <summary>
/// A value of the intervention graph: a module's output or input, an element of one, or the result of an operation on
/// proxies. Nothing is computed while recording; <see cref="Save"/> keeps the value, and <see cref="Value"/> reads it
/// after the run. Operations keep TorchSharp's names (<c>sum</c>, <c>softmax</c>, <c>shape</c>), so code reads the
/// same on proxies and tensors.
/// </summary>
public sealed partial class TensorProxy
{
    private readonly Tracer? _tracer;
    private readonly object? _constant;
    private Node? _node;

    internal TensorProxy(Tracer tracer, Node node)
    {
        _tracer = tracer;
        _node = node;
    }

    private TensorProxy(object constant) => _constant = constant;

    /// <summary>Whether this proxy is a number or tensor converted to a proxy (so it can be assigned or passed to an op).</summary>
    internal bool IsConstant => _tracer is null;

    /// <summary>The number or tensor of a converted proxy.</summary>
    internal object? Constant => _constant;

    internal Tracer Tracer => _tracer ?? throw ConstantUsedAsProxy();

    /// <summary>The graph node whose value this proxy stands for (a write with <c>[...] =</c> moves it to the new version).</summary>
    internal Node Node
    {
        get => _node ?? throw ConstantUsedAsProxy();
        private set => _node = value;
    }

    internal string Where => Node.Source is null ? "" : $"{Node.Source}: ";

    /// <summary>
    /// The saved value after the run: an ordinary tensor owned by the caller (dispose it when done); the same tensor on
    /// every read.
    /// </summary>
    /// <exception cref="ValueNotReadyException">The tracing context has not run, or its run failed.</exception>
    /// <exception cref="ValueNotSavedException">The proxy was never saved.</exception>
    /// <exception cref="TracingException">The proxy was recorded inside All() or Steps(): read <see cref="Values"/>.</exception>
    public Tensor Value => Tracer.SavedValue(this);

    /// <summary>The value's shape, known before the run from the model's shape rules and each op's rule.</summary>
    /// <exception cref="ShapeUnknownException">No rule applies, or the value is a tuple.</exception>
    public long[] shape => TensorShapeOf("shape").Dims;

    /// <summary>The value's element type, known before the run like <see cref="shape"/>.</summary>
    public ScalarType dtype => TensorShapeOf("dtype").Dtype;

    /// <summary>The value's number of dimensions.</summary>
    public long dim() => shape.Length;

    /// <summary>Positions of this invocation's own tokens along dimension 1, past its left padding.</summary>
    public TokenIndexer Token => new(this);

    /// <summary>A number as a proxy, so it can be assigned: <c>x[.., 0] = 0</c>.</summary>
    public static implicit operator TensorProxy(double value) => new(value);

    /// <summary>A tensor as a proxy, so it can be assigned or passed where a proxy is expected: <c>x[.., 0] = steering</c>.</summary>
    public static implicit operator TensorProxy(Tensor value) => new(value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>
    /// The gradient that reaches this value in the trace's backward pass (its invocation's rows, like the value), as a
    /// proxy; setting it replaces the gradient that flows further back. Only a trace that calls <see cref="Backward(string, int)"/>
    /// has gradients; a trace without one refuses <c>.Grad</c> before anything runs.
    /// </summary>
    /// <exception cref="GradientException">The value is a tuple or an integer tensor.</exception>
    public TensorProxy Grad
    {
        get
        {
            var source = CallSites.Capture();
            RequireDifferentiable(source);
            return Tracer.Record(OpRegistry.Grad, [new NodeRef(Node.Id)], source);
        }
        set
        {
            var source = CallSites.Capture();
            RequireDifferentiable(source);
            Tracer.Record(OpRegistry.SetGrad, [new NodeRef(Node.Id), Tracer.Argument(value)], source);
        }
    }

    /// <summary>
    /// Runs the backward pass from this scalar after the forward pass (the trace then runs with autograd on). Several
    /// <c>Backward()</c> calls in one trace run as one backward pass of the sum of their losses, so each invocation's
    /// gradients are those of its own loss. Parameters that require grad accumulate <c>.grad</c> as PyTorch leaves do.
    /// </summary>
    /// <exception cref="GradientException">The value is not a scalar (pass a gradient with <see cref="Backward(TensorProxy, string, int)"/>).</exception>
    public void Backward([CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var source = CallSites.At(file, line);
        if (KnownShape() is { } known && known.Dims.Aggregate(1L, (product, size) => product * size) != 1)
        {
            throw new GradientException(
                $"{(source is null ? "" : $"{source}: ")}Backward() needs a scalar loss, and {Describe()} has shape {known}; reduce it " +
                "(sum(), mean()) or pass the gradient, Backward(gradient).");
        }
        Tracer.Record(OpRegistry.Backward, [new NodeRef(Node.Id)], source);
    }

    /// <summary>Runs the backward pass from this value weighted by <paramref name="gradient"/> (its shape), as PyTorch's <c>backward(gradient)</c>.</summary>
    public void Backward(TensorProxy gradient, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Tracer.Record(OpRegistry.Backward, [new NodeRef(Node.Id), Tracer.Argument(gradient)], CallSites.At(file, line));

    /// <summary>Keeps the value after the run; read it with <see cref="Value"/>.</summary>
    public TensorProxy Save()
    {
        Tracer.MarkSaved(Node);
        return this;
    }

    /// <summary>
    /// The saved values of a proxy recorded inside <see cref="Invoker.All"/> or <see cref="Invoker.Steps"/>: one tensor per
    /// step the run reached, in step order (a generation that stops at eos has fewer), each owned by the caller.
    /// </summary>
    /// <exception cref="TracingException">The proxy was not recorded inside All() or Steps() (read <see cref="Value"/>).</exception>
    public IReadOnlyList<Tensor> Values => Tracer.SavedValues(this);

    /// <summary>Element <paramref name="index"/> of a tuple value, or row <paramref name="index"/> of a tensor (as Python's <c>[i]</c>).</summary>
    /// <remarks>Setting it replaces that element (of a module's value: only in this invocation's rows) or writes that row.</remarks>
    public TensorProxy this[int index, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0]
    {
        get => Element(index, file, line);
        set => AssignElement(index, value, file, line);
    }

    /// <summary>Element or row <paramref name="index"/> counted from the end with <c>^</c>.</summary>
    public TensorProxy this[Index index, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0]
    {
        get => Element(index.IsFromEnd ? -index.Value : index.Value, file, line);
        set => AssignElement(index.IsFromEnd ? -index.Value : index.Value, value, file, line);
    }

    /// <summary>Tensor indexing with TorchSharp's syntax: <c>[.., 13]</c>, <c>[.., ^1]</c>, ranges; settable in place.</summary>
    public TensorProxy this[TensorIndex i0, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0]
    {
        get => Index([i0], file, line);
        set => AssignIndex([i0], value, file, line);
    }

    /// <summary>Tensor indexing over two dimensions.</summary>
    public TensorProxy this[TensorIndex i0, TensorIndex i1, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0]
    {
        get => Index([i0, i1], file, line);
        set => AssignIndex([i0, i1], value, file, line);
    }

    /// <summary>Tensor indexing over three dimensions.</summary>
    public TensorProxy this[TensorIndex i0, TensorIndex i1, TensorIndex i2, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0]
    {
        get => Index([i0, i1, i2], file, line);
        set => AssignIndex([i0, i1, i2], value, file, line);
    }

    /// <summary>Tensor indexing over four dimensions.</summary>
    public TensorProxy this[TensorIndex i0, TensorIndex i1, TensorIndex i2, TensorIndex i3, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0]
    {
        get => Index([i0, i1, i2, i3], file, line);
        set => AssignIndex([i0, i1, i2, i3], value, file, line);
    }

    /// <summary>Runs <paramref name="function"/> on the value during the run: arbitrary local code, never sent to a server.</summary>
    public TensorProxy Apply(Func<Tensor, Tensor> function, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        ArgumentNullException.ThrowIfNull(function);
        return RecordOn(OpRegistry.Apply, [], CallSites.At(file, line), function);
    }

    /// <summary>What the proxy stands for: <c>TensorProxy(transformer.h.3.output[0], shape [1, 10, 64])</c>.</summary>
    public override string ToString()
    {
        string shapeText;
        try
        {
            shapeText = Tracer.ShapeOf(Node).ToString()!;
        }
        catch (ShapeUnknownException)
        {
            shapeText = "unknown";
        }
        return $"TensorProxy({Describe()}, shape {shapeText})";
    }

    internal string Describe() => NodeDescriptions.Describe(Tracer.Graph, Node);

    /// <summary>Whether the proxy was recorded inside All()/Steps() (so it has <see cref="Values"/>).</summary>
    internal bool HasStepValues => Tracer.HasStepCopies(Node.Id);

    /// <summary>The value's tensor shape when the rules know it, else null.</summary>
    private TensorShape? KnownShape()
    {
        try
        {
            return Tracer.ShapeOf(Node) as TensorShape;
        }
        catch (ShapeUnknownException)
        {
            return null;
        }
    }

    /// <exception cref="GradientException">The value is known to be a tuple or an integer tensor.</exception>
    private void RequireDifferentiable(SourceLocation? source)
    {
        ValueShape shape;
        try
        {
            shape = Tracer.ShapeOf(Node);
        }
        catch (ShapeUnknownException)
        {
            return;
        }
        var problem = shape switch
        {
            TupleShape => "is a tuple; index it ([0], [1], ...) to reach a tensor's gradient",
            TensorShape { Dtype: var dtype } when !is_floating_point(dtype) => $"is a {dtype} tensor; only floating-point values have gradients",
            _ => null,
        };
        if (problem is not null)
        {
            throw new GradientException($"{(source is null ? "" : $"{source}: ")}{Describe()} {problem}.");
        }
    }

    /// <summary>The tracer of the first operand that is a recorded proxy.</summary>
    internal static Tracer TracerOf(IEnumerable<object?> operands) =>
        operands.OfType<TensorProxy>().FirstOrDefault(operand => !operand.IsConstant)?.Tracer.Recorder ?? throw ConstantUsedAsProxy();

    private static TracingException ConstantUsedAsProxy() => new(
        "A number or tensor converted to a proxy can only be assigned or passed to an operation on a proxy of the trace; " +
        "it has no node, value or shape of its own.");

    private TensorShape TensorShapeOf(string what) => Tracer.ShapeOf(Node) switch
    {
        TensorShape tensor => tensor,
        var tuple => throw new ShapeUnknownException($"{Where}{Describe()} is a tuple {tuple}; it has no {what}. Index it ([0], [1], ...) first."),
    };

    internal TensorProxy Element(long index, string file, int line) => Element(index, CallSites.At(file, line));

    internal TensorProxy Element(long index, SourceLocation? source) => RecordOn(OpRegistry.GetItem, [index], source);

    private TensorProxy Index(TensorIndex[] indices, string file, int line) =>
        RecordOn(OpRegistry.Index, [indices.Select(IndexSpec.From).ToArray()], CallSites.At(file, line));

    /// <summary>
    /// Records <paramref name="op"/> on this value and <paramref name="rest"/> in the trace recording now: this proxy's
    /// own, or in a session a later trace, which reads this value from its earlier trace.
    /// </summary>
    private TensorProxy RecordOn(OpDefinition op, object?[] rest, SourceLocation? source, Func<Tensor, Tensor>? localFunction = null)
    {
        var recorder = Tracer.Recorder;
        return recorder.Record(op, [recorder.Argument(this), .. rest], source, localFunction: localFunction);
    }

    private void AssignIndex(TensorIndex[] indices, object? value, string file, int line) =>
        AssignIndex(indices, value, CallSites.At(file, line));

    private void AssignIndex(TensorIndex[] indices, object? value, SourceLocation? source) =>
        Node = Tracer.Record(OpRegistry.SetIndex, [new NodeRef(Node.Id), indices.Select(IndexSpec.From).ToArray(), Tracer.Argument(value)], source).Node;

    /// <summary>
    /// <c>x[k] = value</c>: on a module's value (reached through element indices) it records a setter of those rows;
    /// on any other value a write of row <paramref name="index"/> in place.
    /// </summary>
    internal void AssignElement(long index, object? value, string file, int line)
    {
        var source = CallSites.At(file, line);
        var path = new List<long> { index };
        var current = Node;
        while (current.Definition == OpRegistry.GetItem && current.Args[0] is NodeRef parent)
        {
            path.Insert(0, (long)current.Args[1]!);
            current = Tracer.Graph.Nodes[parent.Id];
        }
        if (current.Definition.Kind == OpKind.Getter)
        {
            Tracer.Record(OpRegistry.SetterOf(current.Definition), [Tracer.Argument(value), path.ToArray()], source, current.Access);
            return;
        }
        AssignIndex([TensorIndex.Single(index)], value, source);
    }
}

/// <summary>
/// <c>proxy.Token[i]</c>: selects positions along dimension 1 counted from the invocation's first real token
/// (<c>Token[0]</c>), or from the end (<c>Token[^1]</c>), so left padding never shifts them.
/// </summary>
public readonly struct TokenIndexer
{
    private readonly TensorProxy _proxy;

    internal TokenIndexer(TensorProxy proxy) => _proxy = proxy;

    /// <summary>Token <paramref name="index"/> of each row (the positions dimension is removed).</summary>
    public TensorProxy this[Index index, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0] =>
        Select(new TokenSelector(index, null), file, line);

    /// <summary>Tokens <paramref name="range"/> of each row.</summary>
    public TensorProxy this[Range range, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0] =>
        Select(new TokenSelector(null, range), file, line);

    private TensorProxy Select(TokenSelector selector, string file, int line)
    {
        var tracer = _proxy.Tracer;
        var invocation = InvocationOf(_proxy.Node, tracer.Graph) ?? tracer.CurrentInvoker?.Index
            ?? throw new TracingException("Token needs an invocation: use it inside an Invoke block.");
        return tracer.Record(OpRegistry.Token, [new NodeRef(_proxy.Node.Id), selector, (long)invocation], CallSites.At(file, line));
    }

    private static int? InvocationOf(Node node, InterventionGraph graph) =>
        node.Access?.Invocation ?? node.Dependencies.Select(id => InvocationOf(graph.Nodes[id], graph)).FirstOrDefault(found => found is not null);
}
