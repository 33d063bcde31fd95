using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>How the executor treats an op.</summary>
internal enum OpKind
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

    /// <summary>Reads the gradient that reaches a value in the backward pass (<c>grad</c>).</summary>
    GradientGetter,

    /// <summary>Replaces the gradient that flows further back from a value (<c>set_grad</c>).</summary>
    GradientSetter,

    /// <summary>Runs the backward pass from a loss after the forward (<c>backward</c>).</summary>
    Backward,

    /// <summary>A value of an earlier trace of the same session (<c>session_value</c>).</summary>
    Import,
}

/// <summary>One entry of the op registry.</summary>
/// <param name="Name">The op name, TorchSharp's where there is one.</param>
/// <param name="Kind">How the executor treats it.</param>
/// <param name="Run">For functions: computes the result from resolved arguments (tensors, numbers, dims, indices).</param>
/// <param name="IsView">Whether the result shares memory with the first argument, so writing into it writes into that.</param>
/// <param name="Meta">For ops libtorch has no meta kernel for: the result's structure computed from meta arguments by
/// ops that have one (used for shapes instead of <paramref name="Run"/>).</param>
internal sealed record OpDefinition(string Name, OpKind Kind, Func<object?[], object?>? Run = null, bool IsView = false,
    Func<object?[], object?>? Meta = null);

/// <summary>
/// Every op a graph may contain: one field each, the single place an op's name, kind and function are written. This is
/// the whitelist remote execution checks: a graph naming anything else is refused. Functions run on real tensors during
/// the forward pass and on meta tensors to infer shapes. Proxies record nodes by these fields, never by name.
/// See docs/architecture.md#the-graph.
/// </summary>
internal static class OpRegistry
{
    public static readonly OpDefinition Output = new("output", OpKind.Getter);
    public static readonly OpDefinition Input = new("input", OpKind.Getter);
    public static readonly OpDefinition Inputs = new("inputs", OpKind.Getter);
    public static readonly OpDefinition SetOutput = new("set_output", OpKind.Setter);
    public static readonly OpDefinition SetInput = new("set_input", OpKind.Setter);
    public static readonly OpDefinition SetInputs = new("set_inputs", OpKind.Setter);

    /// <summary>Sets the whole output of a module whose forward need not run (<c>Envoy.Skip</c>).</summary>
    public static readonly OpDefinition Skip = new("skip", OpKind.Setter);
    public static readonly OpDefinition GetItem = new("getitem", OpKind.Element, IsView: true);
    public static readonly OpDefinition SetIndex = new("setindex", OpKind.InPlace, IsView: true);
    public static readonly OpDefinition Token = new("token", OpKind.Token, IsView: true);
    public static readonly OpDefinition Call = new("call", OpKind.ModuleCall);
    public static readonly OpDefinition Apply = new("apply", OpKind.Local);
    public static readonly OpDefinition Grad = new("grad", OpKind.GradientGetter);
    public static readonly OpDefinition SetGrad = new("set_grad", OpKind.GradientSetter);
    public static readonly OpDefinition Backward = new("backward", OpKind.Backward);
    public static readonly OpDefinition SessionValue = new("session_value", OpKind.Import);

    public static readonly OpDefinition Add = Binary("add", (a, b) => a + b, (a, s) => a + s, (s, b) => s + b);
    public static readonly OpDefinition Sub = Binary("sub", (a, b) => a - b, (a, s) => a - s, (s, b) => s - b);
    public static readonly OpDefinition Mul = Binary("mul", (a, b) => a * b, (a, s) => a * s, (s, b) => s * b);
    public static readonly OpDefinition Div = Binary("div", (a, b) => a / b, (a, s) => a / s, (s, b) => s / b);
    public static readonly OpDefinition Pow = Binary("pow", (a, b) => a.pow(b), (a, s) => a.pow(s), (s, b) => pow(s, b));
    public static readonly OpDefinition Eq = Binary("eq", (a, b) => a.eq(b), (a, s) => a.eq(s), (s, b) => b.eq(s));
    public static readonly OpDefinition Ne = Binary("ne", (a, b) => a.ne(b), (a, s) => a.ne(s), (s, b) => b.ne(s));
    public static readonly OpDefinition Gt = Binary("gt", (a, b) => a.gt(b), (a, s) => a.gt(s), (s, b) => b.lt(s));
    public static readonly OpDefinition Ge = Binary("ge", (a, b) => a.ge(b), (a, s) => a.ge(s), (s, b) => b.le(s));
    public static readonly OpDefinition Lt = Binary("lt", (a, b) => a.lt(b), (a, s) => a.lt(s), (s, b) => b.gt(s));
    public static readonly OpDefinition Le = Binary("le", (a, b) => a.le(b), (a, s) => a.le(s), (s, b) => b.ge(s));
    public static readonly OpDefinition Maximum = Function("maximum", a => T(a, 0).maximum(T(a, 1)));
    public static readonly OpDefinition Minimum = Function("minimum", a => T(a, 0).minimum(T(a, 1)));
    public static readonly OpDefinition Matmul = Function("matmul", a => CheckedMatmul(T(a, 0), T(a, 1)));
    public static readonly OpDefinition Where = Function("where", a => where(T(a, 0), T(a, 1), T(a, 2)), meta: a => T(a, 0).to_type(T(a, 1).dtype) + T(a, 1) + T(a, 2));
    public static readonly OpDefinition MaskedFill = Function("masked_fill", a => T(a, 0).masked_fill(T(a, 1), S(a, 2)));

    public static readonly OpDefinition Neg = Function("neg", a => T(a, 0).neg());
    public static readonly OpDefinition Abs = Function("abs", a => T(a, 0).abs(), meta: SameShape);
    public static readonly OpDefinition Exp = Function("exp", a => T(a, 0).exp());
    public static readonly OpDefinition Log = Function("log", a => T(a, 0).log());
    public static readonly OpDefinition Sqrt = Function("sqrt", a => T(a, 0).sqrt());
    public static readonly OpDefinition Tanh = Function("tanh", a => T(a, 0).tanh());
    public static readonly OpDefinition Sigmoid = Function("sigmoid", a => T(a, 0).sigmoid());
    public static readonly OpDefinition Relu = Function("relu", a => T(a, 0).relu(), meta: SameShape);
    public static readonly OpDefinition Clone = Function("clone", a => T(a, 0).clone());
    public static readonly OpDefinition Detach = Function("detach", a => T(a, 0).detach());
    public static readonly OpDefinition Contiguous = Function("contiguous", a => T(a, 0).contiguous());
    public static readonly OpDefinition ToDtype = Function("to_dtype", a => T(a, 0).to_type(Dtype(a, 1)));
    public static readonly OpDefinition ToDevice = Function("to_device", a => T(a, 0).to(torch.device((string)a[1]!)));

    public static readonly OpDefinition Sum = Reduction("sum", t => t.sum(), (t, dim, keep) => t.sum(dim, keep));
    public static readonly OpDefinition Mean = Reduction("mean", t => t.mean(), (t, dim, keep) => t.mean([dim], keepdim: keep));
    public static readonly OpDefinition Prod = Reduction("prod", t => t.prod(), (t, dim, keep) => t.prod(dim, keep), meta: FullReduction);
    public static readonly OpDefinition Argmax = Reduction("argmax", t => t.argmax(), (t, dim, keep) => t.argmax(dim, keep));
    public static readonly OpDefinition Argmin = Reduction("argmin", t => t.argmin(), (t, dim, keep) => t.argmin(dim, keep));
    public static readonly OpDefinition Logsumexp = Reduction("logsumexp", t => t.flatten().logsumexp(0, false), (t, dim, keep) => t.logsumexp(dim, keep),
        meta: a => a.Length == 1 ? T(a, 0).sum() : T(a, 0).sum(L(a, 1), B(a, 2)));
    public static readonly OpDefinition Max = Function("max", a => a.Length == 1 ? T(a, 0).max() : Pair(T(a, 0).max(L(a, 1), B(a, 2))),
        meta: a => a.Length == 1 ? FullReduction(a) : Pair(T(a, 0).max(L(a, 1), B(a, 2))));
    public static readonly OpDefinition Min = Function("min", a => a.Length == 1 ? T(a, 0).min() : Pair(T(a, 0).min(L(a, 1), B(a, 2))),
        meta: a => a.Length == 1 ? FullReduction(a) : Pair(T(a, 0).min(L(a, 1), B(a, 2))));
    public static readonly OpDefinition Norm = Function("norm", a => a.Length == 1 ? T(a, 0).norm() : T(a, 0).norm((int)L(a, 1), B(a, 2), (float)D(a, 3)));
    public static readonly OpDefinition All = Function("all", a => T(a, 0).all());
    public static readonly OpDefinition Any = Function("any", a => T(a, 0).any());
    public static readonly OpDefinition Softmax = Function("softmax", a => T(a, 0).softmax(L(a, 1)));
    public static readonly OpDefinition LogSoftmax = Function("log_softmax", a => T(a, 0).log_softmax(L(a, 1)));
    public static readonly OpDefinition Cumsum = Function("cumsum", a => T(a, 0).cumsum(L(a, 1)));
    public static readonly OpDefinition Topk = Function("topk", a => Pair(T(a, 0).topk((int)L(a, 1), (int)L(a, 2), B(a, 3), B(a, 4))));
    public static readonly OpDefinition Gather = Function("gather", a => T(a, 0).gather(L(a, 1), T(a, 2)));
    public static readonly OpDefinition IndexSelect = Function("index_select", a => T(a, 0).index_select(L(a, 1), T(a, 2)),
        meta: a => T(a, 0).narrow(L(a, 1), 0, 1).expand(ReplaceDim(T(a, 0).shape, L(a, 1), T(a, 2).numel())));

    public static readonly OpDefinition Reshape = Function("reshape", a => T(a, 0).reshape(Dims(a, 1)));
    public static readonly OpDefinition View = Function("view", a => T(a, 0).view(Dims(a, 1)), isView: true);
    public static readonly OpDefinition Flatten = Function("flatten", a => T(a, 0).flatten(L(a, 1), L(a, 2)), isView: true);
    public static readonly OpDefinition Transpose = Function("transpose", a => T(a, 0).transpose(L(a, 1), L(a, 2)), isView: true);
    public static readonly OpDefinition Permute = Function("permute", a => T(a, 0).permute(Dims(a, 1)), isView: true);
    public static readonly OpDefinition Unsqueeze = Function("unsqueeze", a => T(a, 0).unsqueeze(L(a, 1)), isView: true);
    public static readonly OpDefinition Squeeze = Function("squeeze", a => a.Length == 1 ? T(a, 0).squeeze() : T(a, 0).squeeze(L(a, 1)), isView: true);
    public static readonly OpDefinition Expand = Function("expand", a => T(a, 0).expand(Dims(a, 1)), isView: true);
    public static readonly OpDefinition Narrow = Function("narrow", a => T(a, 0).narrow(L(a, 1), L(a, 2), L(a, 3)), isView: true);
    public static readonly OpDefinition Select = Function("select", a => T(a, 0).select(L(a, 1), L(a, 2)), isView: true);
    public static readonly OpDefinition Index = Function("index", a => T(a, 0).index(Indices(a, 1)), isView: true);
    public static readonly OpDefinition Cat = Function("cat", a => cat(Tensors(a, 0), L(a, 1)));
    public static readonly OpDefinition Stack = Function("stack", a => stack(Tensors(a, 0), L(a, 1)));

    /// <summary>Every op, by name (declared after the ops: static fields initialize in textual order).</summary>
    public static IReadOnlyDictionary<string, OpDefinition> Ops { get; } = typeof(OpRegistry)
        .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(field => field.FieldType == typeof(OpDefinition))
        .Select(field => (OpDefinition)field.GetValue(null)!)
        .ToDictionary(op => op.Name, StringComparer.Ordinal);

    /// <summary>The op named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No op has that name.</exception>
    public static OpDefinition Get(string name) =>
        Ops.TryGetValue(name, out var op) ? op : throw new KeyNotFoundException($"\"{name}\" is not an op of the registry.");

    /// <summary>The setter of a getter's module value (<c>output</c> → <c>set_output</c>).</summary>
    public static OpDefinition SetterOf(OpDefinition getter) =>
        getter == Output ? SetOutput : getter == Input ? SetInput : getter == Inputs ? SetInputs
            : throw new ArgumentException($"{getter.Name} is not a module getter.", nameof(getter));

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
