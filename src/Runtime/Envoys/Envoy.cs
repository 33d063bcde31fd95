using System.Runtime.CompilerServices;
using NnSight.Intervention;
using TorchSharp;
using static TorchSharp.torch;
using TorchSharp.Modules;

namespace NnSight;

/// <summary>
/// Stands for one module of a traced model (nnsight's envoy). Inside an <c>Invoke</c> block its <see cref="Output"/>,
/// <see cref="Input"/> and <see cref="Inputs"/> are proxies of that invocation's rows; setting them replaces those rows
/// during the run. Module lists index with <c>[i]</c> and <c>[^i]</c>.
/// </summary>
public class Envoy
{
    private readonly NnSightModel _model;
    private readonly Lazy<IReadOnlyList<Envoy>> _children;

    internal Envoy(NnSightModel model, nn.Module module, string path)
    {
        _model = model;
        Module = module;
        Path = path;
        _children = new Lazy<IReadOnlyList<Envoy>>(() =>
            [.. module.named_children().Select(child => new Envoy(model, child.module, path.Length == 0 ? child.name : $"{path}.{child.name}"))]);
    }

    /// <summary>Creates an envoy that stands for the same module as <paramref name="other"/> (for typed wrappers).</summary>
    protected Envoy(Envoy other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _model = other._model;
        Module = other.Module;
        Path = other.Path;
        _children = other._children;
    }

    /// <summary>The module's dotted path (<c>transformer.h.3</c>; "" for the root).</summary>
    public string Path { get; }

    /// <summary>The module's own name (the last segment of <see cref="Path"/>).</summary>
    public string Name => Path[(Path.LastIndexOf('.') + 1)..];

    /// <summary>The TorchSharp module.</summary>
    public nn.Module Module { get; }

    /// <summary>The envoys of the module's children, in registration order.</summary>
    public IReadOnlyList<Envoy> Children => _children.Value;

    /// <summary>The number of children (the length of a module list).</summary>
    public int Count => Children.Count;

    /// <summary>The child named <paramref name="name"/>.</summary>
    /// <exception cref="ModuleNotFoundException">There is no such child.</exception>
    public Envoy Child(string name) =>
        Children.FirstOrDefault(child => child.Name == name)
        ?? throw new ModuleNotFoundException($"{Label} has no child \"{name}\" (children: {string.Join(", ", Children.Select(child => child.Name))}).");

    /// <summary>Element <paramref name="index"/> of a module list; <c>^1</c> is the last.</summary>
    /// <exception cref="ModuleNotFoundException">The index is outside the list.</exception>
    public Envoy this[Index index]
    {
        get
        {
            if (!IsList)
            {
                throw new TracingException($"{Label} is a {ModuleTreePrinter.TypeName(Module)}, not a module list; it cannot be indexed.");
            }
            var position = index.GetOffset(Count);
            if (position < 0 || position >= Count)
            {
                throw new ModuleNotFoundException($"{Label} has {Count} modules; index {index} is out of range.");
            }
            return Children[position];
        }
    }

    /// <summary>The module's output in the current invocation (a tensor, or a tuple to index with <c>[k]</c>).</summary>
    public TensorProxy Output
    {
        get => Tracer.Access(OpRegistry.Output, AccessKind.Output, this);
        set => Tracer.Assign(OpRegistry.Output, AccessKind.Output, this, value);
    }

    /// <summary>The module's first positional argument in the current invocation.</summary>
    public TensorProxy Input
    {
        get => Tracer.Access(OpRegistry.Input, AccessKind.Input, this);
        set => Tracer.Assign(OpRegistry.Input, AccessKind.Input, this, value);
    }

    /// <summary>All the module's positional arguments in the current invocation, as a tuple (<c>Inputs[1]</c>).</summary>
    public TensorProxy Inputs => Tracer.Access(OpRegistry.Inputs, AccessKind.Inputs, this);

    /// <summary>
    /// Makes <paramref name="value"/> this module's output in the current invocation without running its forward
    /// (nnsight's <c>skip</c>); a structure the shape rules know differs is refused here. The forward is not run when
    /// every invocation skips the call and the module takes the value (see <see cref="SkippedForward"/>); otherwise it
    /// runs and this invocation's rows of its result are replaced.
    /// </summary>
    /// <exception cref="ShapeMismatchException">The value's shape or tuple structure differs from the module's output.</exception>
    public void Skip(TensorProxy value, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        ArgumentNullException.ThrowIfNull(value);
        Tracer.Skip(this, value, CallSites.At(file, line));
    }

    /// <summary>Runs this module on <paramref name="input"/> during the run, outside the forward order (the logit lens).</summary>
    public TensorProxy Call(TensorProxy input, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Call([input], file, line);

    /// <summary>Runs this module on several positional arguments (proxies or constants) during the run.</summary>
    public TensorProxy Call(IReadOnlyList<object?> arguments, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        return Tracer.CallModule(this, arguments, CallSites.At(file, line));
    }

    /// <summary>The module subtree, printed as PyTorch's <c>print(module)</c> does.</summary>
    public override string ToString() => ModuleTreePrinter.Format(Module);

    internal bool IsList => Module.GetType().IsGenericType && Module.GetType().GetGenericTypeDefinition() == typeof(ModuleList<>);

    internal string Label => Path.Length == 0 ? "the model" : Path;

    private Tracer Tracer => _model.ActiveTracer
        ?? throw new TracingException($"{Label}: module values exist only inside a trace (model.Trace() or model.Generate()) and its Invoke blocks.");
}
