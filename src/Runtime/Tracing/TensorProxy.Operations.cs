using System.Runtime.CompilerServices;
using NnSight.Intervention;
using static TorchSharp.torch;

namespace NnSight;

/// <summary>Operations on proxies, named as TorchSharp names them; each records one node of the op registry.</summary>
public sealed partial class TensorProxy
{
    /// <summary>Negation, elementwise.</summary>
    public TensorProxy neg([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Neg, file, line, this);

    /// <summary>Absolute value, elementwise.</summary>
    public TensorProxy abs([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Abs, file, line, this);

    /// <summary>Exponential, elementwise.</summary>
    public TensorProxy exp([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Exp, file, line, this);

    /// <summary>Natural logarithm, elementwise.</summary>
    public TensorProxy log([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Log, file, line, this);

    /// <summary>Square root, elementwise.</summary>
    public TensorProxy sqrt([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Sqrt, file, line, this);

    /// <summary>Hyperbolic tangent, elementwise.</summary>
    public TensorProxy tanh([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Tanh, file, line, this);

    /// <summary>Logistic sigmoid, elementwise.</summary>
    public TensorProxy sigmoid([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Sigmoid, file, line, this);

    /// <summary>ReLU, elementwise.</summary>
    public TensorProxy relu([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Relu, file, line, this);

    /// <summary>A copy of the value.</summary>
    public TensorProxy clone([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Clone, file, line, this);

    /// <summary>The value without autograd history.</summary>
    public TensorProxy detach([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Detach, file, line, this);

    /// <summary>The value in contiguous memory.</summary>
    public TensorProxy contiguous([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Contiguous, file, line, this);

    /// <summary>Whether every element is true (a 0-d tensor).</summary>
    public TensorProxy all([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.All, file, line, this);

    /// <summary>Whether any element is true (a 0-d tensor).</summary>
    public TensorProxy any([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Any, file, line, this);

    /// <summary>Sum with a proxy or tensor.</summary>
    public TensorProxy add(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Add, file, line, this, other);

    /// <summary>Sum with a proxy or tensor.</summary>
    public TensorProxy add(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Add, file, line, this, other);

    /// <summary>Difference with a proxy or tensor.</summary>
    public TensorProxy sub(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Sub, file, line, this, other);

    /// <summary>Difference with a proxy or tensor.</summary>
    public TensorProxy sub(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Sub, file, line, this, other);

    /// <summary>Product with a proxy or tensor.</summary>
    public TensorProxy mul(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Mul, file, line, this, other);

    /// <summary>Product with a proxy or tensor.</summary>
    public TensorProxy mul(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Mul, file, line, this, other);

    /// <summary>Quotient by a proxy or tensor.</summary>
    public TensorProxy div(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Div, file, line, this, other);

    /// <summary>Quotient by a proxy or tensor.</summary>
    public TensorProxy div(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Div, file, line, this, other);

    /// <summary>Power by a proxy or tensor, elementwise.</summary>
    public TensorProxy pow(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Pow, file, line, this, other);

    /// <summary>Power by a proxy or tensor, elementwise.</summary>
    public TensorProxy pow(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Pow, file, line, this, other);

    /// <summary>Elementwise ==.</summary>
    public TensorProxy eq(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Eq, file, line, this, other);

    /// <summary>Elementwise ==.</summary>
    public TensorProxy eq(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Eq, file, line, this, other);

    /// <summary>Elementwise !=.</summary>
    public TensorProxy ne(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Ne, file, line, this, other);

    /// <summary>Elementwise !=.</summary>
    public TensorProxy ne(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Ne, file, line, this, other);

    /// <summary>Elementwise &gt;.</summary>
    public TensorProxy gt(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Gt, file, line, this, other);

    /// <summary>Elementwise &gt;.</summary>
    public TensorProxy gt(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Gt, file, line, this, other);

    /// <summary>Elementwise &gt;=.</summary>
    public TensorProxy ge(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Ge, file, line, this, other);

    /// <summary>Elementwise &gt;=.</summary>
    public TensorProxy ge(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Ge, file, line, this, other);

    /// <summary>Elementwise &lt;.</summary>
    public TensorProxy lt(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Lt, file, line, this, other);

    /// <summary>Elementwise &lt;.</summary>
    public TensorProxy lt(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Lt, file, line, this, other);

    /// <summary>Elementwise &lt;=.</summary>
    public TensorProxy le(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Le, file, line, this, other);

    /// <summary>Elementwise &lt;=.</summary>
    public TensorProxy le(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Le, file, line, this, other);

    /// <summary>Elementwise maximum.</summary>
    public TensorProxy maximum(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Maximum, file, line, this, other);

    /// <summary>Elementwise maximum.</summary>
    public TensorProxy maximum(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Maximum, file, line, this, other);

    /// <summary>Elementwise minimum.</summary>
    public TensorProxy minimum(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Minimum, file, line, this, other);

    /// <summary>Elementwise minimum.</summary>
    public TensorProxy minimum(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Minimum, file, line, this, other);

    /// <summary>Matrix product, with TorchSharp's broadcasting.</summary>
    public TensorProxy matmul(TensorProxy other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Matmul, file, line, this, other);

    /// <summary>Matrix product, with TorchSharp's broadcasting.</summary>
    public TensorProxy matmul(Tensor other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Matmul, file, line, this, other);

    /// <summary>Sum with a number.</summary>
    public TensorProxy add(double other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Add, file, line, this, other);

    /// <summary>Difference with a number.</summary>
    public TensorProxy sub(double other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Sub, file, line, this, other);

    /// <summary>Product with a number.</summary>
    public TensorProxy mul(double other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Mul, file, line, this, other);

    /// <summary>Quotient by a number.</summary>
    public TensorProxy div(double other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Div, file, line, this, other);

    /// <summary>Power by a number, elementwise.</summary>
    public TensorProxy pow(double other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Pow, file, line, this, other);

    /// <summary>Elementwise == a number.</summary>
    public TensorProxy eq(double other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Eq, file, line, this, other);

    /// <summary>Elementwise != a number.</summary>
    public TensorProxy ne(double other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Ne, file, line, this, other);

    /// <summary>Elementwise &gt; a number.</summary>
    public TensorProxy gt(double other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Gt, file, line, this, other);

    /// <summary>Elementwise &gt;= a number.</summary>
    public TensorProxy ge(double other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Ge, file, line, this, other);

    /// <summary>Elementwise &lt; a number.</summary>
    public TensorProxy lt(double other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Lt, file, line, this, other);

    /// <summary>Elementwise &lt;= a number.</summary>
    public TensorProxy le(double other, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Le, file, line, this, other);

    /// <summary>Sum of all elements (a 0-d tensor).</summary>
    public TensorProxy sum([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Sum, file, line, this);

    /// <summary>Sum along <paramref name="dim"/>.</summary>
    public TensorProxy sum(long dim, bool keepdim = false, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Sum, file, line, this, dim, keepdim);

    /// <summary>Mean of all elements (a 0-d tensor).</summary>
    public TensorProxy mean([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Mean, file, line, this);

    /// <summary>Mean along <paramref name="dim"/>.</summary>
    public TensorProxy mean(long dim, bool keepdim = false, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Mean, file, line, this, dim, keepdim);

    /// <summary>Product of all elements (a 0-d tensor).</summary>
    public TensorProxy prod([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Prod, file, line, this);

    /// <summary>Product along <paramref name="dim"/>.</summary>
    public TensorProxy prod(long dim, bool keepdim = false, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Prod, file, line, this, dim, keepdim);

    /// <summary>Index of the maximum of all elements (a 0-d tensor).</summary>
    public TensorProxy argmax([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Argmax, file, line, this);

    /// <summary>Index of the maximum along <paramref name="dim"/>.</summary>
    public TensorProxy argmax(long dim, bool keepdim = false, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Argmax, file, line, this, dim, keepdim);

    /// <summary>Index of the minimum of all elements (a 0-d tensor).</summary>
    public TensorProxy argmin([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Argmin, file, line, this);

    /// <summary>Index of the minimum along <paramref name="dim"/>.</summary>
    public TensorProxy argmin(long dim, bool keepdim = false, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Argmin, file, line, this, dim, keepdim);

    /// <summary>Log of the summed exponentials of all elements (a 0-d tensor).</summary>
    public TensorProxy logsumexp([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Logsumexp, file, line, this);

    /// <summary>Log of the summed exponentials along <paramref name="dim"/>.</summary>
    public TensorProxy logsumexp(long dim, bool keepdim = false, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Logsumexp, file, line, this, dim, keepdim);

    /// <summary>The largest element (a 0-d tensor).</summary>
    public TensorProxy max([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Max, file, line, this);

    /// <summary>The largest values and their indices along <paramref name="dim"/>, as a tuple (values, indices).</summary>
    public TensorProxy max(long dim, bool keepdim = false, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Max, file, line, this, dim, keepdim);

    /// <summary>The smallest element (a 0-d tensor).</summary>
    public TensorProxy min([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Min, file, line, this);

    /// <summary>The smallest values and their indices along <paramref name="dim"/>, as a tuple (values, indices).</summary>
    public TensorProxy min(long dim, bool keepdim = false, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Min, file, line, this, dim, keepdim);

    /// <summary>The 2-norm of all elements (a 0-d tensor).</summary>
    public TensorProxy norm([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Norm, file, line, this);

    /// <summary>The <paramref name="p"/>-norm along <paramref name="dim"/>.</summary>
    public TensorProxy norm(long dim, bool keepdim = false, double p = 2.0, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Norm, file, line, this, dim, keepdim, p);

    /// <summary>Softmax along <paramref name="dim"/>.</summary>
    public TensorProxy softmax(long dim, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Softmax, file, line, this, dim);

    /// <summary>Log-softmax along <paramref name="dim"/>.</summary>
    public TensorProxy log_softmax(long dim, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.LogSoftmax, file, line, this, dim);

    /// <summary>Cumulative sum along <paramref name="dim"/>.</summary>
    public TensorProxy cumsum(long dim, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Cumsum, file, line, this, dim);

    /// <summary>The <paramref name="k"/> largest (or smallest) values and their indices along <paramref name="dim"/>, as a tuple (values, indices).</summary>
    public TensorProxy topk(int k, int dim = -1, bool largest = true, bool sorted = true, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Topk, file, line, this, (long)k, (long)dim, largest, sorted);

    /// <summary>Values at <paramref name="index"/> along <paramref name="dim"/>.</summary>
    public TensorProxy gather(long dim, TensorProxy index, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Gather, file, line, this, dim, index);

    /// <summary>The slices at <paramref name="index"/> along <paramref name="dim"/>.</summary>
    public TensorProxy index_select(long dim, TensorProxy index, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.IndexSelect, file, line, this, dim, index);

    /// <summary>The value with positions where <paramref name="mask"/> is true set to <paramref name="value"/>.</summary>
    public TensorProxy masked_fill(TensorProxy mask, double value, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.MaskedFill, file, line, this, mask, value);

    /// <summary>The value converted to <paramref name="type"/>.</summary>
    public TensorProxy to(ScalarType type, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.ToDtype, file, line, this, type);

    /// <summary>The value moved to <paramref name="device"/>.</summary>
    public TensorProxy to(Device device, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.ToDevice, file, line, this, device.ToString());

    /// <summary>The value with dimensions <paramref name="dim0"/> and <paramref name="dim1"/> swapped.</summary>
    public TensorProxy transpose(long dim0, long dim1, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Transpose, file, line, this, dim0, dim1);

    /// <summary>The value with a new dimension of size 1 at <paramref name="dim"/>.</summary>
    public TensorProxy unsqueeze(long dim, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Unsqueeze, file, line, this, dim);

    /// <summary>The value without its dimensions of size 1.</summary>
    public TensorProxy squeeze([CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Squeeze, file, line, this);

    /// <summary>The value without dimension <paramref name="dim"/> if its size is 1.</summary>
    public TensorProxy squeeze(long dim, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Squeeze, file, line, this, dim);

    /// <summary>The value with dimensions <paramref name="startDim"/> to <paramref name="endDim"/> flattened into one.</summary>
    public TensorProxy flatten(long startDim = 0, long endDim = -1, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Flatten, file, line, this, startDim, endDim);

    /// <summary><paramref name="length"/> positions of dimension <paramref name="dim"/> from <paramref name="start"/>.</summary>
    public TensorProxy narrow(long dim, long start, long length, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Narrow, file, line, this, dim, start, length);

    /// <summary>Position <paramref name="index"/> of dimension <paramref name="dim"/> (the dimension is removed).</summary>
    public TensorProxy select(long dim, long index, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Op(OpRegistry.Select, file, line, this, dim, index);

    /// <summary>The value with a new shape (one size may be -1).</summary>
    public TensorProxy reshape(params long[] shape) =>
        Op(OpRegistry.Reshape, "", 0, this, shape);

    /// <summary>The value viewed with a new shape (one size may be -1).</summary>
    public TensorProxy view(params long[] shape) =>
        Op(OpRegistry.View, "", 0, this, shape);

    /// <summary>The value with its dimensions reordered.</summary>
    public TensorProxy permute(params long[] dims) =>
        Op(OpRegistry.Permute, "", 0, this, dims);

    /// <summary>The value broadcast to <paramref name="sizes"/>.</summary>
    public TensorProxy expand(params long[] sizes) =>
        Op(OpRegistry.Expand, "", 0, this, sizes);

    /// <summary>Proxies concatenated along <paramref name="dim"/>.</summary>
    public static TensorProxy cat(IReadOnlyList<TensorProxy> tensors, long dim = 0, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Sequence(OpRegistry.Cat, tensors, dim, file, line);

    /// <summary>Proxies stacked along a new dimension <paramref name="dim"/>.</summary>
    public static TensorProxy stack(IReadOnlyList<TensorProxy> tensors, long dim = 0, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Sequence(OpRegistry.Stack, tensors, dim, file, line);

    /// <summary>Elementwise add of two proxies.</summary>
    public static TensorProxy operator +(TensorProxy left, TensorProxy right) => Binary(OpRegistry.Add, left, right);

    /// <summary>Elementwise add of a proxy and a tensor.</summary>
    public static TensorProxy operator +(TensorProxy left, Tensor right) => Binary(OpRegistry.Add, left, right);

    /// <summary>Elementwise add of a tensor and a proxy.</summary>
    public static TensorProxy operator +(Tensor left, TensorProxy right) => Binary(OpRegistry.Add, left, right);

    /// <summary>Elementwise add of a proxy and a number.</summary>
    public static TensorProxy operator +(TensorProxy left, double right) => Binary(OpRegistry.Add, left, right);

    /// <summary>Elementwise add of a number and a proxy.</summary>
    public static TensorProxy operator +(double left, TensorProxy right) => Binary(OpRegistry.Add, left, right);
    /// <summary>Elementwise sub of two proxies.</summary>
    public static TensorProxy operator -(TensorProxy left, TensorProxy right) => Binary(OpRegistry.Sub, left, right);

    /// <summary>Elementwise sub of a proxy and a tensor.</summary>
    public static TensorProxy operator -(TensorProxy left, Tensor right) => Binary(OpRegistry.Sub, left, right);

    /// <summary>Elementwise sub of a tensor and a proxy.</summary>
    public static TensorProxy operator -(Tensor left, TensorProxy right) => Binary(OpRegistry.Sub, left, right);

    /// <summary>Elementwise sub of a proxy and a number.</summary>
    public static TensorProxy operator -(TensorProxy left, double right) => Binary(OpRegistry.Sub, left, right);

    /// <summary>Elementwise sub of a number and a proxy.</summary>
    public static TensorProxy operator -(double left, TensorProxy right) => Binary(OpRegistry.Sub, left, right);
    /// <summary>Elementwise mul of two proxies.</summary>
    public static TensorProxy operator *(TensorProxy left, TensorProxy right) => Binary(OpRegistry.Mul, left, right);

    /// <summary>Elementwise mul of a proxy and a tensor.</summary>
    public static TensorProxy operator *(TensorProxy left, Tensor right) => Binary(OpRegistry.Mul, left, right);

    /// <summary>Elementwise mul of a tensor and a proxy.</summary>
    public static TensorProxy operator *(Tensor left, TensorProxy right) => Binary(OpRegistry.Mul, left, right);

    /// <summary>Elementwise mul of a proxy and a number.</summary>
    public static TensorProxy operator *(TensorProxy left, double right) => Binary(OpRegistry.Mul, left, right);

    /// <summary>Elementwise mul of a number and a proxy.</summary>
    public static TensorProxy operator *(double left, TensorProxy right) => Binary(OpRegistry.Mul, left, right);
    /// <summary>Elementwise div of two proxies.</summary>
    public static TensorProxy operator /(TensorProxy left, TensorProxy right) => Binary(OpRegistry.Div, left, right);

    /// <summary>Elementwise div of a proxy and a tensor.</summary>
    public static TensorProxy operator /(TensorProxy left, Tensor right) => Binary(OpRegistry.Div, left, right);

    /// <summary>Elementwise div of a tensor and a proxy.</summary>
    public static TensorProxy operator /(Tensor left, TensorProxy right) => Binary(OpRegistry.Div, left, right);

    /// <summary>Elementwise div of a proxy and a number.</summary>
    public static TensorProxy operator /(TensorProxy left, double right) => Binary(OpRegistry.Div, left, right);

    /// <summary>Elementwise div of a number and a proxy.</summary>
    public static TensorProxy operator /(double left, TensorProxy right) => Binary(OpRegistry.Div, left, right);

    /// <summary>Elementwise negation.</summary>
    public static TensorProxy operator -(TensorProxy value) => Binary(OpRegistry.Neg, value);

    /// <summary>Splits a tuple value such as <see cref="topk"/>'s into its two elements.</summary>
    public void Deconstruct(out TensorProxy first, out TensorProxy second)
    {
        var source = CallSites.Capture();
        first = Element(0, source);
        second = Element(1, source);
    }

    private TensorProxy Op(OpDefinition op, string file, int line, params object?[] arguments)
    {
        var recorder = Tracer.Recorder;
        return recorder.Record(op, [.. arguments.Select(recorder.Argument)], CallSites.At(file, line));
    }

    /// <summary>An operator's node; C# operators take no caller-info arguments, so the line comes from the stack.</summary>
    private static TensorProxy Binary(OpDefinition op, params object?[] arguments)
    {
        var tracer = TracerOf(arguments);
        return tracer.Record(op, [.. arguments.Select(tracer.Argument)], CallSites.Capture());
    }

    private static TensorProxy Sequence(OpDefinition op, IReadOnlyList<TensorProxy> tensors, long dim, string file, int line)
    {
        if (tensors.Count == 0)
        {
            throw new ArgumentException($"{op.Name} needs at least one proxy.", nameof(tensors));
        }
        var tracer = TracerOf(tensors);
        return tracer.Record(op, [tensors.Select(tensor => tracer.Argument(tensor)).ToList(), dim], CallSites.At(file, line));
    }
}
