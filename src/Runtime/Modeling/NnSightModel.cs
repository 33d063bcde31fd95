using NnSight.Intervention;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight;

/// <summary>
/// A TorchSharp module tree that can be traced: envoys over its modules, <see cref="Trace(bool, string?)"/> for one forward
/// pass and <see cref="Generate(int, GenerationOptions?, bool, string?)"/> for generation. A model implementation supplies what the
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

    /// <summary>
    /// Whether the model's forward may write in place into a value a module returned or received (an in-place residual add
    /// on a submodule's output, say). Saved values are then always copies; when false, a saved module value shares the
    /// tensor the module returned, as nnsight's references do, unless the graph itself writes in place. True unless
    /// overridden.
    /// </summary>
    protected internal virtual bool WritesModuleValuesInPlace => true;

    /// <summary>The trace being recorded on this model, if any.</summary>
    internal Tracer? ActiveTracer { get; set; }

    /// <summary>The session whose traces are being recorded on this model, if any.</summary>
    internal Session? ActiveSession { get; set; }

    /// <summary>
    /// Starts a session: the traces and generations recorded until it is disposed run then, in order, as one unit, and a
    /// proxy of an earlier trace can be used in a later one without <c>Save()</c>.
    /// </summary>
    /// <param name="remote">Run the session on the configured NnSight server, as one request.</param>
    /// <param name="server">Run it on this NnSight server (<c>http://host:port</c>).</param>
    public Session Session(bool remote = false, string? server = null) => BeginSession(new Session(this, Remote(remote, server)));

    /// <summary>Starts a session that runs on an NnSight server as one request.</summary>
    public Session Session(RemoteSettings remote) => BeginSession(new Session(this, remote ?? throw new ArgumentNullException(nameof(remote))));

    private Session BeginSession(Session session)
    {
        if (ActiveSession is not null || ActiveTracer is not null)
        {
            throw new TracingException("This model is already recording a session or a trace; dispose it before starting a session.");
        }
        ActiveSession = session;
        return session;
    }

    private readonly List<InterventionGraph> _edits = [];

    /// <summary>The edits every trace and generation of this model applies first, to all rows and steps.</summary>
    internal IReadOnlyList<InterventionGraph> Edits => _edits;

    /// <summary>Whether this model is an edited view sharing another model's modules (which it does not own).</summary>
    internal bool IsView { get; private set; }

    /// <summary>
    /// Records <paramref name="edit"/> (module accesses and operations, as in a trace, without an input) and applies it
    /// to every later trace and generation of this model, in every invocation's rows and at every step, before the
    /// trace's own interventions.
    /// </summary>
    public void EditInPlace(Action edit) => _edits.Add(RecordEdit(edit));

    /// <summary>Removes every edit of this model (those of <see cref="EditInPlace"/>, or a view's).</summary>
    public void ClearEdits()
    {
        _edits.ForEach(graph => graph.Dispose());
        _edits.Clear();
    }

    /// <summary>
    /// A new model object over the same modules (no copy), for edited views; <see cref="ModelEdits.Edit{TModel}"/> needs
    /// it to return the same class. LanguageModel and the generated classes provide it.
    /// </summary>
    /// <exception cref="TracingException">This class cannot make a view of itself.</exception>
    protected virtual NnSightModel CreateView() =>
        throw new TracingException($"{GetType().Name} cannot make an edited view of itself: override CreateView, or use EditInPlace.");

    /// <summary>A view with this model's edits and <paramref name="edit"/>.</summary>
    internal NnSightModel CreateEditedView(Action edit)
    {
        var recorded = RecordEdit(edit);
        var view = CreateView();
        view.IsView = true;
        foreach (var existing in _edits)
        {
            view._edits.Add(existing.Copy());
        }
        view._edits.Add(recorded);
        return view;
    }

    private InterventionGraph RecordEdit(Action edit)
    {
        ArgumentNullException.ThrowIfNull(edit);
        var recorder = Begin(new Tracer(this, generation: null), joinSession: false);
        try
        {
            using (recorder.BeginEdit())
            {
                edit();
            }
            return recorder.TakeGraph();
        }
        finally
        {
            ActiveTracer = null;
        }
    }

    /// <summary>The envoy of the module at <paramref name="path"/> (dotted, as in PyTorch: <c>transformer.h.3</c>).</summary>
    /// <exception cref="ModuleNotFoundException">No module has that path.</exception>
    public Envoy Envoy(string path)
    {
        var envoy = Root;
        foreach (var name in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            envoy = envoy.Child(name);
        }
        return envoy;
    }

    /// <summary>
    /// Clears the <c>.grad</c> of every parameter. Parameters that require grad (the default) accumulate their gradients
    /// over the <c>Backward()</c> traces they take part in, as PyTorch leaves do, until cleared.
    /// </summary>
    public void ZeroGrad() => ModuleAt("").zero_grad();

    /// <summary>The id an NnSight server serves this model under (by default the model folder's name).</summary>
    public string? RemoteId { get; set; }

    /// <summary>Starts recording one forward pass; the model runs when the returned context is disposed.</summary>
    /// <param name="remote">Run on the configured NnSight server (<see cref="RemoteSettings.FromEnvironment"/>).</param>
    /// <param name="server">Run on this NnSight server (<c>http://host:port</c>).</param>
    public Tracer Trace(bool remote = false, string? server = null) =>
        Begin(new Tracer(this, null, Remote(remote, server)));

    /// <summary>Starts recording one forward pass to run on an NnSight server.</summary>
    public Tracer Trace(RemoteSettings remote) => Begin(new Tracer(this, null, remote: remote ?? throw new ArgumentNullException(nameof(remote))));

    /// <summary>Records one forward pass in <paramref name="body"/> and runs it.</summary>
    public void Trace(Action<Tracer> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var tracer = Trace();
        body(tracer);
    }

    /// <summary>Starts recording a generation of up to <paramref name="maxNewTokens"/> tokens; it runs on dispose.</summary>
    /// <param name="maxNewTokens">How many tokens to add at most.</param>
    /// <param name="options">Sampling and stopping options; <see cref="GenerationOptions.MaxNewTokens"/> is replaced.</param>
    /// <param name="remote">Run on the configured NnSight server (<see cref="RemoteSettings.FromEnvironment"/>).</param>
    /// <param name="server">Run on this NnSight server (<c>http://host:port</c>).</param>
    public GenerationTracer Generate(int maxNewTokens = 20, GenerationOptions? options = null, bool remote = false, string? server = null) =>
        (GenerationTracer)Begin(new GenerationTracer(this, (options ?? new GenerationOptions()) with { MaxNewTokens = maxNewTokens }, Remote(remote, server)));

    /// <summary>Starts recording a generation to run on an NnSight server.</summary>
    public GenerationTracer Generate(int maxNewTokens, GenerationOptions? options, RemoteSettings remote) =>
        (GenerationTracer)Begin(new GenerationTracer(this, (options ?? new GenerationOptions()) with { MaxNewTokens = maxNewTokens },
            remote ?? throw new ArgumentNullException(nameof(remote))));

    /// <summary>Records a generation in <paramref name="body"/> and runs it.</summary>
    public void Generate(Action<GenerationTracer> body, int maxNewTokens = 20, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var tracer = Generate(maxNewTokens, options);
        body(tracer);
    }

    /// <summary>The module at <paramref name="path"/> ("" is the root).</summary>
    /// <exception cref="ModuleNotFoundException">No module has that path.</exception>
    public nn.Module ModuleAt(string path) =>
        _modules.TryGetValue(path, out var module) ? module : throw new ModuleNotFoundException($"The model has no module \"{path}\".");

    /// <summary>The token rows of <paramref name="input"/> as an invocation would use them, checked against the model.</summary>
    /// <exception cref="ArgumentException">The input does not fit the model (an empty prompt, an id outside the vocabulary).</exception>
    internal IReadOnlyList<TokenRow> PrepareRows(InvocationInput input) => PrepareInput(input);

    /// <summary>Turns one invocation's input into token rows, at once (so shapes are known while recording).</summary>
    protected internal abstract IReadOnlyList<TokenRow> PrepareInput(InvocationInput input);

    /// <summary>Batches the rows of every invocation (left padding) on the model's device.</summary>
    protected internal abstract TokenBatch CreateBatch(IReadOnlyList<TokenRow> rows);

    /// <summary>Runs one forward pass (hooks installed) and returns its primary output, owned by the caller.</summary>
    protected internal abstract Tensor RunForward(TokenBatch batch, ForwardRequest request);

    /// <summary>Runs generation (hooks installed) and returns the token ids, owned by the caller.</summary>
    /// <exception cref="TracingException">The model does not generate.</exception>
    protected internal virtual Tensor RunGeneration(TokenBatch batch, GenerationOptions options, ForwardRequest request) =>
        throw new TracingException($"{GetType().Name} does not implement generation.");

    /// <summary>The module tree, printed as PyTorch's <c>print(model)</c> does.</summary>
    public override string ToString() => Root.ToString();

    private static RemoteSettings? Remote(bool remote, string? server) =>
        remote || server is not null ? RemoteSettings.FromEnvironment(server) : null;

    private Tracer Begin(Tracer tracer, bool joinSession = true)
    {
        if (ActiveTracer is not null)
        {
            throw new TracingException("This model is already recording a trace; dispose it before starting another.");
        }
        if (joinSession && ActiveSession is not null)
        {
            tracer.JoinSession(ActiveSession);
        }
        ActiveTracer = tracer;
        return tracer;
    }
}
