using NnSight.Intervention;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight;

/// <summary>
/// A TorchSharp module tree that can be traced: envoys over its modules, <see cref="Trace(bool)"/> for one forward
/// pass and <see cref="Generate(int, GenerationOptions?)"/> for generation. A model implementation supplies what the
/// runtime cannot know: how an invocation's input becomes token rows, how rows become a batch, and how to run it.
/// </summary>
public abstract class NnSightModel
{
    private readonly Dictionary<string, nn.Module> _modules;

    /// <summary>Wraps the module tree rooted at <paramref name="root"/>.</summary>
    protected NnSightModel(nn.Module root)
    {
        ArgumentNullException.ThrowIfNull(root);
        _modules = root.named_modules().ToDictionary(entry => entry.name, entry => entry.module, StringComparer.Ordinal);
        _modules[""] = root;
        Root = new Envoy(this, root, "");
    }

    /// <summary>The envoy of the root module; its children are the model's top-level modules.</summary>
    public Envoy Root { get; }

    /// <summary>The model's output in the current invocation (the root module's output rows); settable.</summary>
    public TensorProxy Output
    {
        get => Root.Output;
        set => Root.Output = value;
    }

    /// <summary>The shape rules of the model, or null when output shapes cannot be known before a run.</summary>
    public virtual IShapeRules? ShapeRules => null;

    /// <summary>The trace being recorded on this model, if any.</summary>
    internal Tracer? ActiveTracer { get; set; }

    /// <summary>The envoy of the module at <paramref name="path"/> (dotted, as in PyTorch: <c>transformer.h.3</c>).</summary>
    /// <exception cref="KeyNotFoundException">No module has that path.</exception>
    public Envoy Envoy(string path)
    {
        var envoy = Root;
        foreach (var name in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            envoy = envoy.Child(name);
        }
        return envoy;
    }

    /// <summary>Starts recording one forward pass; the model runs when the returned context is disposed.</summary>
    /// <param name="enableGrad">Record autograd history during the run (off by default: the run is under no_grad).</param>
    public Tracer Trace(bool enableGrad = false) => Begin(new Tracer(this, null, enableGrad));

    /// <summary>Records one forward pass in <paramref name="body"/> and runs it.</summary>
    public void Trace(Action<Tracer> body, bool enableGrad = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var tracer = Trace(enableGrad);
        body(tracer);
    }

    /// <summary>Starts recording a generation of up to <paramref name="maxNewTokens"/> tokens; it runs on dispose.</summary>
    /// <param name="maxNewTokens">How many tokens to add at most.</param>
    /// <param name="options">Sampling and stopping options; <see cref="GenerationOptions.MaxNewTokens"/> is replaced.</param>
    public GenerationTracer Generate(int maxNewTokens = 20, GenerationOptions? options = null) =>
        (GenerationTracer)Begin(new GenerationTracer(this, (options ?? new GenerationOptions()) with { MaxNewTokens = maxNewTokens }));

    /// <summary>Records a generation in <paramref name="body"/> and runs it.</summary>
    public void Generate(Action<GenerationTracer> body, int maxNewTokens = 20, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var tracer = Generate(maxNewTokens, options);
        body(tracer);
    }

    /// <summary>The module at <paramref name="path"/> ("" is the root).</summary>
    /// <exception cref="KeyNotFoundException">No module has that path.</exception>
    public nn.Module ModuleAt(string path) =>
        _modules.TryGetValue(path, out var module) ? module : throw new KeyNotFoundException($"The model has no module \"{path}\".");

    /// <summary>Turns one invocation's input into token rows, at once (so shapes are known while recording).</summary>
    protected internal abstract IReadOnlyList<TokenRow> PrepareInput(InvocationInput input);

    /// <summary>Batches the rows of every invocation (left padding) on the model's device.</summary>
    protected internal abstract TokenBatch CreateBatch(IReadOnlyList<TokenRow> rows);

    /// <summary>Runs one forward pass (hooks installed) and returns its primary output, owned by the caller.</summary>
    protected internal abstract Tensor RunForward(TokenBatch batch, ForwardRequest request);

    /// <summary>Runs generation (hooks installed) and returns the token ids, owned by the caller.</summary>
    /// <exception cref="NotSupportedException">The model does not generate.</exception>
    protected internal virtual Tensor RunGeneration(TokenBatch batch, GenerationOptions options, ForwardRequest request) =>
        throw new NotSupportedException($"{GetType().Name} does not implement generation.");

    /// <summary>The module tree, printed as PyTorch's <c>print(model)</c> does.</summary>
    public override string ToString() => Root.ToString();

    private Tracer Begin(Tracer tracer)
    {
        if (ActiveTracer is not null)
        {
            throw new TracingException("This model is already recording a trace; dispose it before starting another.");
        }
        ActiveTracer = tracer;
        return tracer;
    }
}
