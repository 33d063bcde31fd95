using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>How the executor treats an op.</summary>
public enum OpKind
{
    /// <summary>A pure function of its arguments, run by <see cref="OpDefinition.Run"/>.</summary>
    Function,

    /// <summary>Reads a module's value in one invocation's rows (<c>output</c>, <c>input</c>, <c>inputs</c>).</summary>
    Getter,

    /// <summary>Replaces a module's value in one invocation's rows (<c>set_output</c>, ...).</summary>
    Setter,

    /// <summary>Element of a tuple, or index of a tensor (<c>getitem</c>).</summary>
    Element,

    /// <summary>Writes into a tensor in place (<c>setindex</c>); the result is the written tensor.</summary>
    InPlace,

    /// <summary>Selects an invocation's own tokens past its left padding (<c>token</c>).</summary>
    Token,

    /// <summary>Runs a module of the model on values of the graph (<c>call</c>).</summary>
    ModuleCall,

    /// <summary>Runs local code (<c>apply</c>); never serialized or run remotely.</summary>
    Local,
}

/// <summary>One entry of the op registry.</summary>
/// <param name="Name">The op name, TorchSharp's where there is one.</param>
/// <param name="Kind">How the executor treats it.</param>
/// <param name="Run">For functions: computes the result from resolved arguments (tensors, numbers, dims, indices).</param>
/// <param name="IsView">Whether the result shares memory with the first argument, so writing into it writes into that.</param>
/// <param name="Meta">For ops libtorch has no meta kernel for: the result's structure computed from meta arguments by
/// ops that have one (used for shapes instead of <paramref name="Run"/>).</param>
public sealed record OpDefinition(string Name, OpKind Kind, Func<object?[], object?>? Run = null, bool IsView = false,
    Func<object?[], object?>? Meta = null);

/// <summary>
/// Every op a graph may contain, by name. This is the whitelist remote execution checks: a graph naming anything else
/// is refused. Functions run on real tensors during the forward pass and on meta tensors to infer shapes.
/// </summary>
public static class OpRegistry
{
    private static readonly Dictionary<string, OpDefinition> Definitions = Build().ToDictionary(op => op.Name, StringComparer.Ordinal);

    /// <summary>Every op, by name.</summary>
    public static IReadOnlyDictionary<string, OpDefinition> Ops => Definitions;

    /// <summary>The op named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No op has that name.</exception>
    public static OpDefinition Get(string name) =>
        Definitions.TryGetValue(name, out var op) ? op : throw new KeyNotFoundException($"\"{name}\" is not an op of the registry.");

    private static IEnumerable<OpDefinition> Build()
    {
        yield return new("output", OpKind.Getter);
        yield return new("input", OpKind.Getter);
        yield return new("inputs", OpKind.Getter);
        yield return new("set_output", OpKind.Setter);
        yield return new("set_input", OpKind.Setter);
        yield return new("set_inputs", OpKind.Setter);
        yield return new("getitem", OpKind.Element, IsView: true);
        yield return new("setindex", OpKind.InPlace, IsView: true);
        yield return new("token", OpKind.Token, IsView: true);
        yield return new("call", OpKind.ModuleCall);
        yield return new("apply", OpKind.Local);

        yield return Binary("add", (a, b) => a + b, (a, s) => a + s, (s, b) => s + b);
        yield return Binary("sub", (a, b) => a - b, (a, s) => a - s, (s, b) => s - b);
        yield return Binary("mul", (a, b) => a * b, (a, s) => a * s, (s, b) => s * b);
        yield return Binary("div", (a, b) => a / b, (a, s) => a / s, (s, b) => s / b);
        yield return Binary("pow", (a, b) => a.pow(b), (a, s) => a.pow(s), (s, b) => pow(s, b));
        yield return Binary("eq", (a, b) => a.eq(b), (a, s) => a.eq(s), (s, b) => b.eq(s));
        yield return Binary("ne", (a, b) => a.ne(b), (a, s) => a.ne(s), (s, b) => b.ne(s));
        yield return Binary("gt", (a, b) => a.gt(b), (a, s) => a.gt(s), (s, b) => b.lt(s));
        yield return Binary("ge", (a, b) => a.ge(b), (a, s) => a.ge(s), (s, b) => b.le(s));
        yield return Binary("lt", (a, b) => a.lt(b), (a, s) => a.lt(s), (s, b) => b.gt(s));
        yield return Binary("le", (a, b) => a.le(b), (a, s) => a.le(s), (s, b) => b.ge(s));
        yield return Function("maximum", a => T(a, 0).maximum(T(a, 1)));
        yield return Function("minimum", a => T(a, 0).minimum(T(a, 1)));
        yield return Function("matmul", a => CheckedMatmul(T(a, 0), T(a, 1)));
        yield return Function("where", a => where(T(a, 0), T(a, 1), T(a, 2)), meta: a => T(a, 0).to_type(T(a, 1).dtype) + T(a, 1) + T(a, 2));
        yield return Function("masked_fill", a => T(a, 0).masked_fill(T(a, 1), S(a, 2)));

        yield return Function("neg", a => T(a, 0).neg());
        yield return Function("abs", a => T(a, 0).abs(), meta: SameShape);
        yield return Function("exp", a => T(a, 0).exp());
        yield return Function("log", a => T(a, 0).log());
        yield return Function("sqrt", a => T(a, 0).sqrt());
        yield return Function("tanh", a => T(a, 0).tanh());
        yield return Function("sigmoid", a => T(a, 0).sigmoid());
        yield return Function("relu", a => T(a, 0).relu(), meta: SameShape);
        yield return Function("clone", a => T(a, 0).clone());
        yield return Function("detach", a => T(a, 0).detach());
        yield return Function("contiguous", a => T(a, 0).contiguous());
        yield return Function("to_dtype", a => T(a, 0).to_type(Dtype(a, 1)));
        yield return Function("to_device", a => T(a, 0).to(torch.device((string)a[1]!)));

        yield return Reduction("sum", t => t.sum(), (t, dim, keep) => t.sum(dim, keep));
        yield return Reduction("mean", t => t.mean(), (t, dim, keep) => t.mean([dim], keepdim: keep));
        yield return Reduction("prod", t => t.prod(), (t, dim, keep) => t.prod(dim, keep), meta: FullReduction);
        yield return Reduction("argmax", t => t.argmax(), (t, dim, keep) => t.argmax(dim, keep));
        yield return Reduction("argmin", t => t.argmin(), (t, dim, keep) => t.argmin(dim, keep));
        yield return Reduction("logsumexp", t => t.flatten().logsumexp(0, false), (t, dim, keep) => t.logsumexp(dim, keep),
            meta: a => a.Length == 1 ? T(a, 0).sum() : T(a, 0).sum(L(a, 1), B(a, 2)));
        yield return Function("max", a => a.Length == 1 ? T(a, 0).max() : Pair(T(a, 0).max(L(a, 1), B(a, 2))),
            meta: a => a.Length == 1 ? FullReduction(a) : Pair(T(a, 0).max(L(a, 1), B(a, 2))));
        yield return Function("min", a => a.Length == 1 ? T(a, 0).min() : Pair(T(a, 0).min(L(a, 1), B(a, 2))),
            meta: a => a.Length == 1 ? FullReduction(a) : Pair(T(a, 0).min(L(a, 1), B(a, 2))));
        yield return Function("norm", a => a.Length == 1 ? T(a, 0).norm() : T(a, 0).norm((int)L(a, 1), B(a, 2), (float)D(a, 3)));
        yield return Function("all", a => T(a, 0).all());
        yield return Function("any", a => T(a, 0).any());
        yield return Function("softmax", a => T(a, 0).softmax(L(a, 1)));
        yield return Function("log_softmax", a => T(a, 0).log_softmax(L(a, 1)));
        yield return Function("cumsum", a => T(a, 0).cumsum(L(a, 1)));
        yield return Function("topk", a => Pair(T(a, 0).topk((int)L(a, 1), (int)L(a, 2), B(a, 3), B(a, 4))));
        yield return Function("gather", a => T(a, 0).gather(L(a, 1), T(a, 2)));
        yield return Function("index_select", a => T(a, 0).index_select(L(a, 1), T(a, 2)),
            meta: a => T(a, 0).narrow(L(a, 1), 0, 1).expand(ReplaceDim(T(a, 0).shape, L(a, 1), T(a, 2).numel())));

        yield return Function("reshape", a => T(a, 0).reshape(Dims(a, 1)));
        yield return Function("view", a => T(a, 0).view(Dims(a, 1)), isView: true);
        yield return Function("flatten", a => T(a, 0).flatten(L(a, 1), L(a, 2)), isView: true);
        yield return Function("transpose", a => T(a, 0).transpose(L(a, 1), L(a, 2)), isView: true);
        yield return Function("permute", a => T(a, 0).permute(Dims(a, 1)), isView: true);
        yield return Function("unsqueeze", a => T(a, 0).unsqueeze(L(a, 1)), isView: true);
        yield return Function("squeeze", a => a.Length == 1 ? T(a, 0).squeeze() : T(a, 0).squeeze(L(a, 1)), isView: true);
        yield return Function("expand", a => T(a, 0).expand(Dims(a, 1)), isView: true);
        yield return Function("narrow", a => T(a, 0).narrow(L(a, 1), L(a, 2), L(a, 3)), isView: true);
        yield return Function("select", a => T(a, 0).select(L(a, 1), L(a, 2)), isView: true);
        yield return Function("index", a => T(a, 0).index(Indices(a, 1)), isView: true);
        yield return Function("cat", a => cat(Tensors(a, 0), L(a, 1)));
        yield return Function("stack", a => stack(Tensors(a, 0), L(a, 1)));
    }

    /// <summary>
    /// TorchSharp 0.107's matmul lets libtorch's shape error escape as a C++ exception, which terminates the process; the
    /// shapes are checked here first, by libtorch's rules.
    /// </summary>
    private static Tensor CheckedMatmul(Tensor left, Tensor right)
    {
        var (a, b) = (left.shape, right.shape);
        var inner = a.Length == 0 || b.Length == 0 ? -1 : a[^1];
        var other = b.Length switch { 0 => -2, 1 => b[0], _ => b[^2] };
        var batchesBroadcast = a.Length <= 2 || b.Length <= 2 || a[..^2].Reverse().Zip(b[..^2].Reverse()).All(pair => pair.First == pair.Second || pair.First == 1 || pair.Second == 1);
        if (inner != other || !batchesBroadcast)
        {
            throw new ArgumentException($"matmul cannot multiply shapes {Shapes.Format(a)} and {Shapes.Format(b)}.");
        }
        return left.matmul(right);
    }

    private static OpDefinition Function(string name, Func<object?[], object?> run, bool isView = false, Func<object?[], object?>? meta = null) =>
        new(name, OpKind.Function, run, isView, meta);

    private static object? SameShape(object?[] a) => T(a, 0).clone();

    private static object? FullReduction(object?[] a) => T(a, 0).sum().to_type(T(a, 0).dtype);

    private static long[] ReplaceDim(long[] shape, long dim, long size)
    {
        var result = (long[])shape.Clone();
        result[dim < 0 ? dim + shape.Length : dim] = size;
        return result;
    }

    private static OpDefinition Binary(string name, Func<Tensor, Tensor, Tensor> tensors, Func<Tensor, Scalar, Tensor> tensorScalar,
        Func<Scalar, Tensor, Tensor> scalarTensor) =>
        Function(name, a => (a[0], a[1]) switch
        {
            (Tensor left, Tensor right) => tensors(left, right),
            (Tensor left, var right) => tensorScalar(left, ToScalar(right, name)),
            (var left, Tensor right) => scalarTensor(ToScalar(left, name), right),
            _ => throw new ArgumentException($"{name} needs at least one tensor."),
        });

    private static OpDefinition Reduction(string name, Func<Tensor, Tensor> all, Func<Tensor, long, bool, Tensor> alongDim,
        Func<object?[], object?>? meta = null) =>
        Function(name, a => a.Length == 1 ? all(T(a, 0)) : alongDim(T(a, 0), L(a, 1), B(a, 2)), meta: meta);

    private static ArgumentTuple Pair((Tensor First, Tensor Second) pair) => new([pair.First, pair.Second]);

    private static Tensor T(object?[] a, int i) =>
        a[i] as Tensor ?? throw new ArgumentException($"argument {i} must be a tensor, found {Values.Describe(a[i])}.");

    private static long L(object?[] a, int i) => Convert.ToInt64(a[i], System.Globalization.CultureInfo.InvariantCulture);

    private static double D(object?[] a, int i) => Convert.ToDouble(a[i], System.Globalization.CultureInfo.InvariantCulture);

    private static bool B(object?[] a, int i) => (bool)a[i]!;

    private static long[] Dims(object?[] a, int i) => (long[])a[i]!;

    private static ScalarType Dtype(object?[] a, int i) => (ScalarType)a[i]!;

    private static TensorIndex[] Indices(object?[] a, int i) => [.. ((IndexSpec[])a[i]!).Select(index => index.ToTensorIndex())];

    private static Tensor[] Tensors(object?[] a, int i) => [.. ((IEnumerable<object?>)a[i]!).Select((item, k) => item as Tensor
        ?? throw new ArgumentException($"element {k} of argument {i} must be a tensor."))];

    private static Scalar S(object?[] a, int i) => ToScalar(a[i], "masked_fill");

    private static Scalar ToScalar(object? value, string op) => value switch
    {
        double number => number,
        long number => number,
        int number => number,
        bool flag => flag,
        _ => throw new ArgumentException($"{op}: {Values.Describe(value)} is neither a tensor nor a number."),
    };
}
