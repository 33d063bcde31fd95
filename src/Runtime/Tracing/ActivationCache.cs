using static TorchSharp.torch;

namespace NnSight;

/// <summary>
/// Module values kept by <see cref="Tracer.Cache(Envoy[])"/>: read them after the run through the envoys
/// (<c>cache[model.Transformer.H[3]].Output[0]</c>) or by path. Each entry holds the invocation's rows; during a
/// generation there is one entry per step the run reached (<see cref="CachedModule.Steps"/>). The tensors belong to
/// the cache: dispose it to release them.
/// </summary>
public sealed class ActivationCache : IDisposable
{
    private readonly Dictionary<string, CachedModule> _modules;

    internal ActivationCache(IReadOnlyDictionary<string, (CachedValue Output, CachedValue? Inputs)> recorded)
    {
        _modules = recorded.ToDictionary(entry => entry.Key, entry => new CachedModule(entry.Key, entry.Value.Output, entry.Value.Inputs),
            StringComparer.Ordinal);
    }

    /// <summary>The cached modules' paths.</summary>
    public IReadOnlyCollection<string> Paths => _modules.Keys;

    /// <summary>The cached values of <paramref name="envoy"/>'s module.</summary>
    /// <exception cref="ModuleNotFoundException">That module was not cached.</exception>
    public CachedModule this[Envoy envoy] => this[(envoy ?? throw new ArgumentNullException(nameof(envoy))).Path];

    /// <summary>The cached values of the module at <paramref name="path"/> ("" is the model).</summary>
    /// <exception cref="ModuleNotFoundException">That module was not cached.</exception>
    public CachedModule this[string path] => _modules.TryGetValue(path, out var module)
        ? module
        : throw new ModuleNotFoundException($"\"{path}\" is not in this cache (cached: {_modules.Count} module(s); pass its envoy to tracer.Cache(...)).");

    /// <summary>Disposes every cached tensor.</summary>
    public void Dispose()
    {
        foreach (var module in _modules.Values)
        {
            module.Output.Dispose();
            module.InputsIfCached?.Dispose();
        }
    }
}

/// <summary>The cached values of one module: its output (and inputs, when asked for), per step.</summary>
public sealed class CachedModule
{
    private readonly CachedValue? _inputs;

    internal CachedModule(string path, CachedValue output, CachedValue? inputs)
    {
        Path = path;
        Output = output;
        _inputs = inputs;
    }

    /// <summary>The module's path.</summary>
    public string Path { get; }

    /// <summary>The module's output at the first cached step: a tensor, or a tuple to index with <c>[k]</c>.</summary>
    public CachedValue Output { get; }

    /// <summary>The module's positional arguments at the first cached step, as a tuple.</summary>
    /// <exception cref="TracingException">Inputs were not asked for (<c>tracer.Cache(inputs: true, ...)</c>).</exception>
    public CachedValue Inputs => _inputs ?? throw new TracingException($"The inputs of {Path} were not cached: use tracer.Cache(inputs: true, ...).");

    internal CachedValue? InputsIfCached => _inputs;

    /// <summary>The module's values at every step the run reached (one entry for a single forward pass).</summary>
    public IReadOnlyList<CachedModule> Steps =>
        [.. Enumerable.Range(0, Output.StepCount).Select(step => new CachedModule(Path, Output.AtStep(step), _inputs?.AtStep(step)))];
}

/// <summary>
/// A cached value: a tensor, or a tuple of cached values (<c>[k]</c>). Converts implicitly to its tensor.
/// </summary>
public sealed class CachedValue
{
    private readonly TensorProxy? _proxy;
    private readonly IReadOnlyList<CachedValue>? _elements;
    private readonly int _step;

    /// <summary>A tuple element that is not a tensor (or whose structure the shape rules do not give).</summary>
    internal static CachedValue NotCached { get; } = new([]);

    internal CachedValue(TensorProxy proxy, int step = 0)
    {
        _proxy = proxy;
        _step = step;
    }

    internal CachedValue(IReadOnlyList<CachedValue> elements, int step = 0)
    {
        _elements = elements;
        _step = step;
    }

    /// <summary>Whether the value is a tuple.</summary>
    public bool IsTuple => _elements is not null;

    /// <summary>The number of elements of a tuple.</summary>
    public int Count => _elements?.Count ?? throw new TracingException("This cached value is a tensor, not a tuple.");

    /// <summary>Element <paramref name="index"/> of a tuple value (negative counts from the end).</summary>
    public CachedValue this[int index] => _elements is { } elements
        ? elements[index < 0 ? elements.Count + index : index]
        : throw new TracingException("This cached value is a tensor; index it as a tensor after reading it.");

    /// <summary>The tensor of a tensor value.</summary>
    public Tensor Tensor => _proxy is { } proxy
        ? Values(proxy)[_step]
        : throw new TracingException(ReferenceEquals(this, NotCached)
            ? "This element is not a tensor, or its structure is not known before the run, so it was not cached."
            : "This cached value is a tuple; index it ([0], [1], ...) to reach a tensor.");

    /// <summary>The tensor of a tensor value.</summary>
    public static implicit operator Tensor(CachedValue value) => (value ?? throw new ArgumentNullException(nameof(value))).Tensor;

    internal int StepCount => _proxy is { } proxy ? Values(proxy).Count : _elements!.Select(element => element.StepCount).DefaultIfEmpty(1).Max();

    internal CachedValue AtStep(int step) => _proxy is { } proxy ? new CachedValue(proxy, step)
        : ReferenceEquals(this, NotCached) ? this : new CachedValue([.. _elements!.Select(element => element.AtStep(step))], step);

    internal void Dispose()
    {
        if (_proxy is { } proxy)
        {
            foreach (var tensor in Values(proxy))
            {
                tensor.Dispose();
            }
        }
        foreach (var element in _elements ?? [])
        {
            element.Dispose();
        }
    }

    /// <summary>The proxy's values: one per step for a value recorded over steps, else the single one.</summary>
    private static IReadOnlyList<Tensor> Values(TensorProxy proxy) => proxy.HasStepValues ? proxy.Values : [proxy.Value];
}
