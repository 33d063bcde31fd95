using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace NnSight.Generators.Analyzers;

/// <summary>A shape mistake found at an operation: the message and its arguments.</summary>
internal sealed record ShapeProblem(DiagnosticDescriptor Descriptor, object[] Arguments);

/// <summary>
/// The symbolic shapes of proxy values within one method body (or top-level program), computed on demand and kept
/// per operation: module values from the generator's <c>[Shape]</c> metadata, then tuple elements, indices,
/// <c>Token[i]</c>, operators, proxy methods and <c>Call</c>, and locals whose every assignment agrees. An operation
/// whose operands cannot fit has a <see cref="ShapeProblem"/> and an unknown result, so one mistake is one diagnostic.
/// Anything else (a plain tensor, <c>Apply</c>, a parameter, a field, another method's value) is unknown, and unknown
/// never conflicts.
/// </summary>
internal sealed class ShapeFlow
{
    private const int MaxDepth = 256;

    /// <summary>The proxy methods that compute on a tensor (on a tuple they fail); <c>Save</c>, <c>Apply</c> and the like do not.</summary>
    private static readonly HashSet<string> TensorMethods = new(System.StringComparer.Ordinal)
    {
        "neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "clone", "detach", "contiguous", "to", "masked_fill", "all", "any",
        "sum", "mean", "prod", "argmax", "argmin", "logsumexp", "norm", "max", "min", "softmax", "log_softmax", "cumsum", "topk",
        "transpose", "permute", "unsqueeze", "squeeze", "flatten", "narrow", "select", "reshape", "view", "expand", "matmul",
        "add", "sub", "mul", "div", "pow", "eq", "ne", "gt", "ge", "lt", "le", "maximum", "minimum", "gather", "index_select", "dim",
    };

    private readonly NnSightTypes _types;
    private readonly ShapeMetadata _metadata;
    private readonly Dictionary<IOperation, Outcome> _outcomes = [];
    private readonly Dictionary<ILocalSymbol, SymbolicShape?> _locals = new(SymbolEqualityComparer.Default);
    private readonly Dictionary<ILocalSymbol, ModuleShapes?> _envoyLocals = new(SymbolEqualityComparer.Default);
    private readonly HashSet<ILocalSymbol> _inProgress = new(SymbolEqualityComparer.Default);
    private readonly Dictionary<ILocalSymbol, List<IOperation>?> _writes = new(SymbolEqualityComparer.Default);
    private int _depth;

    /// <summary>A flow over one body.</summary>
    public ShapeFlow(NnSightTypes types, ShapeMetadata metadata)
    {
        _types = types;
        _metadata = metadata;
    }

    /// <summary>Whether <paramref name="operation"/> is one the flow can judge (cheap: symbols only, no shapes).</summary>
    public static bool IsCandidate(IOperation operation, NnSightTypes types) => operation switch
    {
        IBinaryOperation { OperatorMethod: { } method } => IsProxy(method.ContainingType, types),
        IUnaryOperation { OperatorMethod: { } method } => IsProxy(method.ContainingType, types),
        ICompoundAssignmentOperation { OperatorMethod: { } method } => IsProxy(method.ContainingType, types),
        IInvocationOperation invocation => IsProxy(invocation.TargetMethod.ContainingType, types)
            || invocation.TargetMethod.Name is "Call" or "Skip" && NnSightTypes.Is(invocation.TargetMethod.ContainingType, types.Envoy),
        IPropertyReferenceOperation { Property.IsIndexer: true } indexer => IsProxy(indexer.Property.ContainingType, types)
            || NnSightTypes.Is(indexer.Property.ContainingType, types.TupleProxy) || NnSightTypes.Is(indexer.Property.ContainingType, types.TokenIndexer),
        ISimpleAssignmentOperation { Target: IPropertyReferenceOperation target } => ProxyValues.IsRuntimeMember(target.Property, types),
        _ => false,
    };

    /// <summary>The shape of <paramref name="operation"/>'s value, or null when it is not known.</summary>
    public SymbolicShape? ShapeOf(IOperation operation) => Evaluate(operation).Shape;

    /// <summary>The mistake <paramref name="operation"/> itself makes, or null.</summary>
    public ShapeProblem? ProblemOf(IOperation operation) => Evaluate(operation).Problem;

    private Outcome Evaluate(IOperation? operation)
    {
        if (operation is null)
        {
            return default;
        }
        if (_outcomes.TryGetValue(operation, out var known))
        {
            return known;
        }
        if (_depth > MaxDepth)
        {
            return default;
        }
        _depth++;
        try
        {
            var outcome = Compute(operation);
            _outcomes[operation] = outcome;
            return outcome;
        }
        finally
        {
            _depth--;
        }
    }

    private Outcome Compute(IOperation operation) => operation switch
    {
        _ when IsNumber(operation.Type) => SymbolicShape.Scalar,
        IConversionOperation conversion => Conversion(conversion),
        ILocalReferenceOperation local => Local(local.Local),
        IPropertyReferenceOperation property => Property(property),
        IInvocationOperation invocation => Invocation(invocation),
        IBinaryOperation { OperatorMethod: { } method } binary when IsProxy(method.ContainingType, _types) =>
            Elementwise(binary, binary.LeftOperand, binary.RightOperand),
        IUnaryOperation { OperatorMethod: { } method } unary when IsProxy(method.ContainingType, _types) => SameShape(unary, unary.Operand),
        ISimpleAssignmentOperation assignment => Assignment(assignment),
        ICompoundAssignmentOperation { OperatorMethod: { } method } compound when IsProxy(method.ContainingType, _types) => CompoundAssignment(compound),
        _ => default,
    };

    private Outcome Conversion(IConversionOperation conversion)
    {
        if (conversion.OperatorMethod is { } method)
        {
            // TupleProxy → TensorProxy passes the tuple on; a number becomes a 0-d value; a plain tensor is unknown.
            return NnSightTypes.Is(method.ContainingType, _types.TupleProxy) ? Evaluate(conversion.Operand).Shape
                : IsProxy(conversion.Type, _types) && method.Parameters.Length == 1 && IsNumber(method.Parameters[0].Type) ? SymbolicShape.Scalar
                : default(Outcome);
        }
        return Evaluate(conversion.Operand).Shape;
    }

    private Outcome Property(IPropertyReferenceOperation property)
    {
        var member = property.Property;
        if (member.IsIndexer)
        {
            var first = member.Parameters.FirstOrDefault()?.Type;
            if (NnSightTypes.Is(member.ContainingType, _types.TokenIndexer))
            {
                return Token(property);
            }
            if (NnSightTypes.Is(member.ContainingType, _types.TupleProxy) || IsProxy(member.ContainingType, _types) && (IsInteger(first) || IsIndex(first)))
            {
                return Element(property);
            }
            return IsProxy(member.ContainingType, _types) && SymbolEqualityComparer.Default.Equals(first, _types.TensorIndex) ? TensorIndex(property) : default;
        }
        if (member.Name is "Output" or "Input" && (NnSightTypes.Is(member.ContainingType, _types.Envoy) || NnSightTypes.Is(member.ContainingType, _types.Model)))
        {
            if (member.Name == "Output" && _metadata.Of(member) is { } typed)
            {
                return typed.Output;
            }
            var module = Module(property.Instance);
            return member.Name == "Output" ? module?.Output : module?.Input;
        }
        if (IsProxy(member.ContainingType, _types))
        {
            // Grad has the value's shape; Token stands for its receiver until indexed.
            return member.Name is "Grad" or "Token" && Evaluate(property.Instance).Shape is SymbolicTensor tensor ? tensor : default(Outcome);
        }
        if (NnSightTypes.Is(member.ContainingType, _types.TupleProxy))
        {
            return member.Name == "Proxy" ? Evaluate(property.Instance).Shape : _metadata.Of(member)?.Output;
        }
        return default;
    }

    /// <summary>The module an envoy expression stands for, by its member's <c>[Shape]</c> (a list's through its indexer).</summary>
    private ModuleShapes? Module(IOperation? envoy, bool list = false)
    {
        while (envoy is IConversionOperation { OperatorMethod: null } conversion)
        {
            envoy = conversion.Operand;
        }
        switch (envoy)
        {
            case ILocalReferenceOperation local:
                return list ? Writes(local.Local) is { Count: 1 } only ? Module(only[0], list: true) : null : EnvoyLocal(local.Local);
            case IPropertyReferenceOperation { Property.IsIndexer: true } element when NnSightTypes.Is(element.Instance?.Type, _types.EnvoyList):
                return list ? null : Module(element.Instance, list: true);
            case IPropertyReferenceOperation property when NnSightTypes.Is(property.Type, _types.EnvoyList) == list:
                return _metadata.Of(property.Property);
            default:
                return null;
        }
    }

    private ModuleShapes? EnvoyLocal(ILocalSymbol local)
    {
        if (_envoyLocals.TryGetValue(local, out var known))
        {
            return known;
        }
        _envoyLocals[local] = null;
        var writes = Writes(local);
        var modules = writes is { Count: > 0 } ? writes.Select(write => Module(write)).Distinct().ToList() : null;
        var module = modules is { Count: 1 } ? modules[0] : null;
        _envoyLocals[local] = module;
        return module;
    }

    private Outcome Local(ILocalSymbol local)
    {
        if (_locals.TryGetValue(local, out var known))
        {
            return known;
        }
        if (!_inProgress.Add(local))
        {
            return default;
        }
        var writes = Writes(local);
        SymbolicShape? shape = null;
        if (writes is { Count: > 0 })
        {
            shape = Evaluate(writes[0]).Shape;
            foreach (var write in writes.Skip(1))
            {
                shape = Join(shape, Evaluate(write).Shape);
            }
        }
        _inProgress.Remove(local);
        _locals[local] = shape;
        return shape;
    }

    /// <summary>
    /// The values assigned to <paramref name="local"/> in the body; null when it is also written otherwise (+=,
    /// deconstruction, passed by <c>ref</c>/<c>out</c>, or referred to by a <c>ref</c> local).
    /// </summary>
    private List<IOperation>? Writes(ILocalSymbol local) => _writes.TryGetValue(local, out var writes) ? writes : null;

    /// <summary>
    /// Notes what <paramref name="operation"/> writes into locals, for <see cref="Writes"/>: every operation of the body
    /// that assigns a local passes here before any shape is asked for (the analyzer collects them as the driver visits
    /// the body, and asks at its end).
    /// </summary>
    public void NoteWrite(IOperation operation)
    {
        switch (operation)
        {
            case IVariableDeclaratorOperation { Symbol.RefKind: not RefKind.None, Initializer.Value: { } value } declarator:
                Untrack(value);
                _writes[declarator.Symbol] = null;
                break;
            case IVariableDeclaratorOperation { Initializer.Value: { } value } declarator:
                Add(declarator.Symbol, value);
                break;
            case ISimpleAssignmentOperation { IsRef: true } assignment:
                Untrack(assignment.Target);
                Untrack(assignment.Value);
                break;
            case ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment:
                Add(target.Local, assignment.Value);
                break;
            case IArgumentOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out } argument:
                Untrack(argument.Value);
                break;
            case ICompoundAssignmentOperation { Target: ILocalReferenceOperation target }:
                _writes[target.Local] = null;
                break;
            case IIncrementOrDecrementOperation { Target: ILocalReferenceOperation target }:
                _writes[target.Local] = null;
                break;
            case IDeconstructionAssignmentOperation deconstruction:
                Untrack(deconstruction.Target);
                break;
        }

        void Add(ILocalSymbol target, IOperation value)
        {
            if (!_writes.TryGetValue(target, out var list))
            {
                _writes[target] = [value];
            }
            else
            {
                list?.Add(value);
            }
        }

        void Untrack(IOperation target)
        {
            foreach (var reference in target.DescendantsAndSelf().OfType<ILocalReferenceOperation>())
            {
                _writes[reference.Local] = null;
            }
        }
    }

    /// <summary>The operation kinds <see cref="NoteWrite"/> reads.</summary>
    public static ImmutableArray<OperationKind> WriteKinds { get; } = ImmutableArray.Create(
        OperationKind.VariableDeclarator, OperationKind.SimpleAssignment, OperationKind.CompoundAssignment, OperationKind.Increment,
        OperationKind.Decrement, OperationKind.DeconstructionAssignment, OperationKind.Argument);

    /// <summary>The operation kinds <see cref="IsCandidate"/> may accept.</summary>
    public static ImmutableArray<OperationKind> CandidateKinds { get; } = ImmutableArray.Create(
        OperationKind.Binary, OperationKind.Unary, OperationKind.CompoundAssignment, OperationKind.Invocation, OperationKind.PropertyReference,
        OperationKind.SimpleAssignment);

    /// <summary><c>x[k]</c>: element k of a tuple, or row k of a tensor (<c>^k</c> from the end).</summary>
    private Outcome Element(IPropertyReferenceOperation element)
    {
        var target = Evaluate(element.Instance).Shape;
        var index = ConstantPosition(element.Arguments.FirstOrDefault()?.Value);
        switch (target)
        {
            case SymbolicTuple tuple:
                if (index is not { } position)
                {
                    return default;
                }
                var at = position < 0 ? tuple.Elements.Length + position : position;
                return at >= 0 && at < tuple.Elements.Length
                    ? tuple.Elements[(int)at]
                    : Problem(DiagnosticDescriptors.ShapeMismatchValue, element, tuple, $"the tuple has {tuple.Elements.Length} elements (0 to {tuple.Elements.Length - 1})");
            case SymbolicTensor tensor:
                return Result(element, tensor, ShapeRules.Select(tensor, 0, index));
            default:
                return default;
        }
    }

    /// <summary>TorchSharp's index syntax: single positions remove a dimension, ranges slice it, <c>None</c> adds one.</summary>
    private Outcome TensorIndex(IPropertyReferenceOperation indexer)
    {
        var target = Evaluate(indexer.Instance).Shape;
        if (target is SymbolicTuple tuple)
        {
            return Problem(DiagnosticDescriptors.ShapeMismatchValue, indexer, tuple, "it is a tuple; select an element ([0], [1], ...) before indexing positions");
        }
        if (target is not SymbolicTensor tensor)
        {
            return default;
        }
        var indices = new List<IndexPart>();
        foreach (var argument in indexer.Arguments.Where(argument => SymbolEqualityComparer.Default.Equals(argument.Parameter?.Type, _types.TensorIndex)))
        {
            if (IndexPartOf(argument.Value) is not { } part)
            {
                return default;
            }
            indices.Add(part);
        }
        var consumed = indices.Count(part => part.Kind is IndexKind.Single or IndexKind.Slice);
        var ellipsis = indices.Count(part => part.Kind == IndexKind.Ellipsis);
        if (consumed > tensor.Rank || ellipsis > 1)
        {
            return Problem(DiagnosticDescriptors.ShapeMismatchValue, indexer, tensor,
                ellipsis > 1 ? "an index has one ellipsis at most" : $"{consumed} positions are indexed, but it has {tensor.Rank} dimension{(tensor.Rank == 1 ? "" : "s")}");
        }
        var dims = new List<SymbolicDim>();
        var next = 0;
        foreach (var part in indices)
        {
            switch (part.Kind)
            {
                case IndexKind.Single:
                    if (part.Start is { } position && ShapeRules.OutsidePosition(position, tensor.Dims[next]) is { } outside)
                    {
                        return Problem(DiagnosticDescriptors.ShapeMismatchValue, indexer, tensor, $"{outside} (dimension {next})");
                    }
                    next++;
                    break;
                case IndexKind.Slice:
                    dims.Add(part.Known ? ShapeRules.Slice(tensor.Dims[next], part.Start, part.Stop) : SymbolicDim.Unknown);
                    next++;
                    break;
                case IndexKind.NewAxis:
                    dims.Add(SymbolicDim.Constant(1));
                    break;
                case IndexKind.Ellipsis:
                    var covered = tensor.Rank - consumed;
                    dims.AddRange(tensor.Dims.Skip(next).Take(covered));
                    next += covered;
                    break;
            }
        }
        dims.AddRange(tensor.Dims.Skip(next));
        return tensor.With(dims);
    }

    /// <summary><c>x.Token[i]</c> removes the positions dimension (1); <c>x.Token[a..b]</c> keeps b − a positions.</summary>
    private Outcome Token(IPropertyReferenceOperation token)
    {
        if (Evaluate(token.Instance).Shape is not SymbolicTensor tensor)
        {
            return default;
        }
        if (tensor.Rank < 2)
        {
            return Problem(DiagnosticDescriptors.ShapeMismatchValue, token, tensor, "Token selects along dimension 1 (positions), which it does not have");
        }
        var argument = Unconverted(token.Arguments.FirstOrDefault()?.Value);
        if (argument is IRangeOperation range)
        {
            var (start, stop) = (Bound(range.LeftOperand, openAtEnd: false), Bound(range.RightOperand, openAtEnd: true));
            var length = start is { } from && stop is { } to && from.FromEnd == to.FromEnd
                ? SymbolicDim.Constant(from.FromEnd ? from.Value - to.Value : to.Value - from.Value)
                : SymbolicDim.Unknown;
            return length.IsConstant && length.Factor < 0 ? default : tensor.With(tensor.Dims.SetItem(1, length));
        }
        return IsIndex(token.Property.Parameters.FirstOrDefault()?.Type) ? tensor.With(tensor.Dims.RemoveAt(1)) : default;
    }

    private Outcome Invocation(IInvocationOperation invocation)
    {
        var method = invocation.TargetMethod;
        if (NnSightTypes.Is(method.ContainingType, _types.Envoy))
        {
            return method.Name switch
            {
                "Call" when method.Parameters.FirstOrDefault() is { } first && IsProxy(first.Type, _types) => Call(invocation),
                "Skip" => Skip(invocation),
                _ => default,
            };
        }
        if (!IsProxy(method.ContainingType, _types) || method.IsStatic)
        {
            return default;
        }
        if (method.Name == "Save")
        {
            return Evaluate(invocation.Instance).Shape;
        }
        var receiver = Evaluate(invocation.Instance).Shape;
        if (receiver is SymbolicTuple tuple && TensorMethods.Contains(method.Name))
        {
            return Problem(DiagnosticDescriptors.ShapeMismatchValue, invocation, tuple, $"it is a tuple, and {method.Name} takes a tensor; select an element ([0], [1], ...) first");
        }
        if (receiver is not SymbolicTensor value)
        {
            return default;
        }
        var dim = Constant(Argument(invocation, "dim"));
        var keepDim = Argument(invocation, "keepdim")?.ConstantValue is { HasValue: true, Value: bool keep } ? keep : (bool?)null;
        switch (method.Name)
        {
            case "neg" or "abs" or "exp" or "log" or "sqrt" or "tanh" or "sigmoid" or "relu" or "clone" or "detach" or "contiguous" or "to" or "masked_fill":
                return value;
            case "all" or "any":
                return SymbolicShape.Scalar;
            case "sum" or "mean" or "prod" or "argmax" or "argmin" or "logsumexp" or "norm" or "max" or "min":
                if (!HasArgument(invocation, "dim"))
                {
                    return SymbolicShape.Scalar;
                }
                if (dim is not { } along || keepDim is not { } keeps)
                {
                    return default;
                }
                var reduced = ShapeRules.Reduce(value, along, keeps);
                return method.Name is "max" or "min" && reduced.Shape is { } pairs
                    ? new SymbolicTuple(ImmutableArray.Create<SymbolicShape?>(pairs, pairs), repeated: false)
                    : Result(invocation, value, reduced);
            case "softmax" or "log_softmax" or "cumsum":
                return dim is { } softDim ? Result(invocation, value, ShapeRules.Along(value, softDim)) : default;
            case "topk":
                return TopK(invocation, value, dim);
            case "transpose":
                return Constant(Argument(invocation, "dim0")) is { } first && Constant(Argument(invocation, "dim1")) is { } second
                    ? Result(invocation, value, ShapeRules.Transpose(value, first, second))
                    : default;
            case "permute":
                return Sizes(invocation) is { } order ? Result(invocation, value, ShapeRules.Permute(value, order)) : default;
            case "unsqueeze":
                return dim is { } newDim ? Result(invocation, value, ShapeRules.Unsqueeze(value, newDim)) : default;
            case "squeeze":
                return !HasArgument(invocation, "dim") ? ShapeRules.SqueezeAll(value).Shape
                    : dim is { } squeezed ? Result(invocation, value, ShapeRules.Squeeze(value, squeezed)) : default;
            case "flatten":
                return Constant(Argument(invocation, "startDim")) is { } start && Constant(Argument(invocation, "endDim")) is { } end
                    ? Result(invocation, value, ShapeRules.Flatten(value, start, end))
                    : default;
            case "narrow":
                return dim is { } narrowed && Constant(Argument(invocation, "start")) is { } from && Constant(Argument(invocation, "length")) is { } length
                    ? Result(invocation, value, ShapeRules.Narrow(value, narrowed, from, length))
                    : default;
            case "select":
                return dim is { } selected ? Result(invocation, value, ShapeRules.Select(value, selected, Constant(Argument(invocation, "index")))) : default;
            case "reshape" or "view":
                return Sizes(invocation) is { } sizes ? Result(invocation, value, ShapeRules.Reshape(value, sizes)) : default;
            case "expand":
                return Sizes(invocation) is { } expanded ? Result(invocation, value, ShapeRules.Expand(value, expanded)) : default;
            case "matmul":
                return Evaluate(Argument(invocation, "other")).Shape is SymbolicTensor other
                    ? Result(invocation, value, ShapeRules.Matmul(value, other), "matrix-multiply", other)
                    : default;
            case "add" or "sub" or "mul" or "div" or "pow" or "eq" or "ne" or "gt" or "ge" or "lt" or "le" or "maximum" or "minimum":
                return Elementwise(invocation, invocation.Instance!, Argument(invocation, "other"));
            case "gather":
                return dim is { } gathered && ShapeRules.Dimension(gathered, value.Rank) is null && value.Rank > 0
                    ? Problem(DiagnosticDescriptors.ShapeMismatchValue, invocation, value, ShapeRules.OutsideDimensions(gathered, value.Rank))
                    : Evaluate(Argument(invocation, "index")).Shape;
            default:
                return default;
        }
    }

    private Outcome TopK(IInvocationOperation invocation, SymbolicTensor value, long? dim)
    {
        if (dim is not { } along || Constant(Argument(invocation, "k")) is not { } k)
        {
            return default;
        }
        if (ShapeRules.Dimension(along, value.Rank) is not { } at)
        {
            return value.Rank == 0 ? default : Problem(DiagnosticDescriptors.ShapeMismatchValue, invocation, value, ShapeRules.OutsideDimensions(along, value.Rank));
        }
        if (value.Dims[at] is { IsConstant: true } size && k > size.Factor)
        {
            return Problem(DiagnosticDescriptors.ShapeMismatchValue, invocation, value, $"k = {k} is more than the {size} positions of dimension {along}");
        }
        var top = value.With(value.Dims.SetItem(at, SymbolicDim.Constant(k)));
        return new SymbolicTuple(ImmutableArray.Create<SymbolicShape?>(top, top), repeated: false);
    }

    /// <summary>
    /// <c>module.Call(x)</c>: <c>x</c>'s last size must be the width the module takes (a dropout or activation takes any);
    /// the result keeps <c>x</c>'s leading sizes with the module's output width, or the module's output for <c>x</c>'s sizes.
    /// </summary>
    private Outcome Call(IInvocationOperation call)
    {
        var module = Module(call.Instance);
        var given = Evaluate(call.Arguments.FirstOrDefault()?.Value).Shape as SymbolicTensor;
        if (module is null || given is null)
        {
            return default;
        }
        if (module.Elementwise)
        {
            return given;
        }
        if (module.Input is SymbolicTensor { Rank: > 0 } input && given.Rank > 0)
        {
            var (width, size) = (input.Dims[input.Rank - 1], given.Dims[given.Rank - 1]);
            if (width.IsConstant && !size.CanBeOne && !size.CanEqual(width))
            {
                return Problem(DiagnosticDescriptors.ShapeMismatchCall, call, given, call.Instance!.Syntax.ToString(), input, $"the widths {size} and {width} differ");
            }
        }
        return CallResult(module, given);
    }

    private static SymbolicShape? CallResult(ModuleShapes module, SymbolicTensor given)
    {
        if (module.Input is not SymbolicTensor input)
        {
            return null;
        }
        if (module.Output is SymbolicTensor output && input.Rank > 0)
        {
            // A linear map or a normalisation (the same leading sizes) maps the last size; an embedding appends one.
            if (output.Rank == input.Rank && output.Dims.Take(output.Rank - 1).SequenceEqual(input.Dims.Take(input.Rank - 1)))
            {
                return given.With(given.Dims.Take(given.Rank - 1).Append(output.Dims[output.Rank - 1]));
            }
            if (output.Rank == input.Rank + 1 && output.Dims.Take(input.Rank).SequenceEqual(input.Dims))
            {
                return given.With(given.Dims.Append(output.Dims[output.Rank - 1]));
            }
        }
        if (given.Rank != input.Rank || module.Output is null)
        {
            return null;
        }
        // A block or model: its output for the given batch and positions, run without a cache (past+seq is seq).
        var sizes = new Dictionary<string, SymbolicDim>(System.StringComparer.Ordinal);
        for (var k = 0; k < input.Rank; k++)
        {
            if (input.Dims[k] is { IsConstant: false, Factor: 1, Symbols.Length: 1 } symbol)
            {
                sizes[symbol.Symbols[0]] = given.Dims[k];
            }
        }
        if (sizes.TryGetValue("seq", out var positions))
        {
            sizes["past+seq"] = positions;
        }
        return Substitute(module.Output, sizes);
    }

    private static SymbolicShape? Substitute(SymbolicShape? shape, IReadOnlyDictionary<string, SymbolicDim> sizes) => shape switch
    {
        SymbolicTensor tensor => tensor.With(tensor.Dims.Select(dim => dim.IsConstant ? dim
            : dim.Symbols.Aggregate(SymbolicDim.Constant(dim.Factor), (product, name) => sizes.TryGetValue(name, out var size) ? product.Times(size) : SymbolicDim.Unknown))),
        SymbolicTuple tuple => new SymbolicTuple(tuple.Elements.Select(element => Substitute(element, sizes)).ToImmutableArray(), tuple.Repeated),
        _ => null,
    };

    /// <summary><c>module.Skip(value)</c>: the value must have the module output's own structure (the runtime compares every size).</summary>
    private Outcome Skip(IInvocationOperation skip)
    {
        var value = skip.Arguments.FirstOrDefault(argument => IsProxy(argument.Parameter?.Type, _types))?.Value;
        var expected = Module(skip.Instance)?.Output;
        var actual = Evaluate(value).Shape;
        return ShapeRules.SameStructureConflict(expected, actual) is { } conflict
            ? Problem(DiagnosticDescriptors.ShapeMismatchSkip, skip, expected!, actual!, value!.Syntax.ToString(), conflict)
            : default;
    }

    /// <summary>A setting of a module value, an element, a gradient or an index: the value must fit the slot.</summary>
    private Outcome Assignment(ISimpleAssignmentOperation assignment)
    {
        var value = Evaluate(assignment.Value).Shape;
        if (assignment.Target is not IPropertyReferenceOperation target || !ProxyValues.IsRuntimeMember(target.Property, _types))
        {
            return value;
        }
        var slot = Evaluate(target).Shape;
        return ShapeRules.AssignConflict(slot, value) is { } conflict
            ? Problem(DiagnosticDescriptors.ShapeMismatchSetting, target, slot!, value!, Unconverted(assignment.Value)!.Syntax.ToString(), conflict)
            : value;
    }

    private Outcome CompoundAssignment(ICompoundAssignmentOperation compound)
    {
        var result = Elementwise(compound, compound.Target, compound.Value);
        if (result.Problem is not null || compound.Target is not IPropertyReferenceOperation target)
        {
            return result;
        }
        var slot = Evaluate(target).Shape;
        return ShapeRules.AssignConflict(slot, result.Shape) is { } conflict
            ? Problem(DiagnosticDescriptors.ShapeMismatchSetting, target, slot!, result.Shape!, compound.Syntax.ToString(), conflict)
            : result;
    }

    /// <summary>Two operands combined element by element: tuples are refused, tensors and numbers broadcast.</summary>
    private Outcome Elementwise(IOperation operation, IOperation? left, IOperation? right)
    {
        var (first, second) = (Evaluate(left).Shape, Evaluate(right).Shape);
        if (first is SymbolicTuple || second is SymbolicTuple)
        {
            return TupleRefused(operation, first as SymbolicTuple ?? (SymbolicTuple)second!);
        }
        return first is SymbolicTensor a && second is SymbolicTensor b ? Result(operation, a, ShapeRules.Broadcast(a, b), "broadcast", b) : default;
    }

    private Outcome SameShape(IOperation operation, IOperation operand) => Evaluate(operand).Shape switch
    {
        SymbolicTuple tuple => TupleRefused(operation, tuple),
        var shape => shape,
    };

    private Outcome TupleRefused(IOperation operation, SymbolicTuple tuple) =>
        Problem(DiagnosticDescriptors.ShapeMismatchValue, operation, tuple, "it is a tuple, and elementwise operations take tensors; select an element ([0], [1], ...) first");

    /// <summary>A rule's result at <paramref name="operation"/>: a conflict of one value, or of two operands joined by <paramref name="verb"/>.</summary>
    private static Outcome Result(IOperation operation, SymbolicTensor value, RuleResult result, string? verb = null, SymbolicTensor? other = null) =>
        result.Conflict is not { } conflict ? result.Shape
            : verb is null ? Problem(DiagnosticDescriptors.ShapeMismatchValue, operation, value, conflict)
            : Problem(DiagnosticDescriptors.ShapeMismatchOperands, operation, verb, value, other!, conflict);

    private static Outcome Problem(DiagnosticDescriptor descriptor, IOperation operation, params object[] arguments) =>
        new(null, new ShapeProblem(descriptor, [operation.Syntax.ToString(), .. arguments.Select(argument => argument.ToString()!)]));

    private static SymbolicShape? Join(SymbolicShape? first, SymbolicShape? second) => (first, second) switch
    {
        (SymbolicTensor a, SymbolicTensor b) when a.Rank == b.Rank => a.With(a.Dims.Zip(b.Dims, (x, y) => x.Equals(y) ? x : SymbolicDim.Unknown)),
        (SymbolicTuple a, SymbolicTuple b) when a.Elements.Length == b.Elements.Length =>
            new SymbolicTuple(a.Elements.Zip(b.Elements, Join).ToImmutableArray(), a.Repeated && b.Repeated),
        _ => null,
    };

    /// <summary>One position of a TorchSharp index, as far as it is known.</summary>
    private enum IndexKind
    {
        Single,
        Slice,
        NewAxis,
        Ellipsis,
    }

    private sealed record IndexPart(IndexKind Kind, long? Start = null, long? Stop = null, bool Known = true);

    /// <summary>
    /// What a <c>TensorIndex</c> argument selects: a number or <c>^k</c> (a single position, <c>^k</c> is <c>-k</c> as
    /// TorchSharp converts it), a range with constant bounds (a slice), <c>TensorIndex.None</c>, <c>Ellipsis</c> or
    /// <c>Colon</c>; null for tensors, masks and anything not known.
    /// </summary>
    private IndexPart? IndexPartOf(IOperation value)
    {
        if (value is IConversionOperation { OperatorMethod: not null } conversion)
        {
            var operand = Unconverted(conversion.Operand)!;
            if (operand is IRangeOperation range)
            {
                var (start, stop) = (Bound(range.LeftOperand, openAtEnd: false), Bound(range.RightOperand, openAtEnd: true));
                return start is { } from && stop is { } to
                    ? new IndexPart(IndexKind.Slice, from.FromEnd ? -from.Value : from.Value, to.FromEnd ? (to.Value == 0 ? null : -to.Value) : to.Value)
                    : new IndexPart(IndexKind.Slice, Known: false);
            }
            if (IsIndex(conversion.Operand.Type) || IsInteger(conversion.Operand.Type))
            {
                return new IndexPart(IndexKind.Single, ConstantPosition(conversion.Operand));
            }
            return IsRange(conversion.Operand.Type) ? new IndexPart(IndexKind.Slice, Known: false) : null;
        }
        return value is IPropertyReferenceOperation { Property.IsStatic: true } member && SymbolEqualityComparer.Default.Equals(member.Property.ContainingType, _types.TensorIndex)
            ? member.Property.Name switch
            {
                "Ellipsis" => new IndexPart(IndexKind.Ellipsis),
                "None" => new IndexPart(IndexKind.NewAxis),
                "Colon" => new IndexPart(IndexKind.Slice),
                _ => null,
            }
            : null;
    }

    /// <summary>A constant position: an integer, or <c>^k</c> as <c>-k</c>.</summary>
    private static long? ConstantPosition(IOperation? index)
    {
        index = Unconverted(index);
        if (index is IUnaryOperation { OperatorKind: UnaryOperatorKind.Hat } hat)
        {
            return Constant(hat.Operand) is { } fromEnd ? -fromEnd : null;
        }
        return Constant(index);
    }

    /// <summary>A constant range bound: its value and whether it counts from the end (an open end is <c>^0</c>, an open start 0).</summary>
    private static (long Value, bool FromEnd)? Bound(IOperation? bound, bool openAtEnd)
    {
        bound = Unconverted(bound);
        if (bound is null)
        {
            return (0, openAtEnd);
        }
        if (bound is IUnaryOperation { OperatorKind: UnaryOperatorKind.Hat } hat)
        {
            return Constant(hat.Operand) is { } fromEnd ? (fromEnd, true) : null;
        }
        return Constant(bound) is { } fromStart ? (fromStart, false) : null;
    }

    /// <summary>The constant sizes of a <c>params long[]</c> argument (<c>reshape(-1, 768)</c>), or null.</summary>
    private static IReadOnlyList<long>? Sizes(IInvocationOperation invocation)
    {
        var argument = invocation.Arguments.FirstOrDefault(item => item.Parameter?.IsParams == true)?.Value;
        if (argument is not IArrayCreationOperation { Initializer.ElementValues: var elements })
        {
            return null;
        }
        var sizes = new List<long>();
        foreach (var element in elements)
        {
            if (Constant(element) is not { } size)
            {
                return null;
            }
            sizes.Add(size);
        }
        return sizes;
    }

    private static IOperation? Argument(IInvocationOperation invocation, string parameter) =>
        invocation.Arguments.FirstOrDefault(argument => argument.Parameter?.Name == parameter)?.Value;

    private static bool HasArgument(IInvocationOperation invocation, string parameter) =>
        invocation.TargetMethod.Parameters.Any(item => item.Name == parameter);

    private static long? Constant(IOperation? operation) => operation?.ConstantValue is { HasValue: true, Value: { } value } && value is int or long or short or sbyte or byte
        ? System.Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)
        : null;

    /// <summary>The operand under built-in conversions and the conversion of an integer to <c>System.Index</c>.</summary>
    private static IOperation? Unconverted(IOperation? operation)
    {
        while (operation is IConversionOperation conversion && (conversion.OperatorMethod is null || IsIndex(conversion.Type)))
        {
            operation = conversion.Operand;
        }
        return operation;
    }

    /// <summary>Whether <paramref name="type"/> is <c>TensorProxy</c> (a sealed class, so no base type needs a look).</summary>
    private static bool IsProxy(ITypeSymbol? type, NnSightTypes types) => SymbolEqualityComparer.Default.Equals(type, types.TensorProxy);

    private static bool IsNumber(ITypeSymbol? type) =>
        type?.SpecialType is SpecialType.System_Double or SpecialType.System_Single or SpecialType.System_Int32 or SpecialType.System_Int64
            or SpecialType.System_Int16 or SpecialType.System_Byte or SpecialType.System_SByte or SpecialType.System_Boolean;

    private static bool IsInteger(ITypeSymbol? type) =>
        type?.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Int16 or SpecialType.System_Byte or SpecialType.System_SByte;

    private static bool IsIndex(ITypeSymbol? type) => type is { Name: "Index", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } };

    private static bool IsRange(ITypeSymbol? type) => type is { Name: "Range", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } };

    /// <summary>A shape and, when the operation does not fit, its problem.</summary>
    private readonly struct Outcome(SymbolicShape? shape, ShapeProblem? problem)
    {
        public SymbolicShape? Shape { get; } = shape;

        public ShapeProblem? Problem { get; } = problem;

        public static implicit operator Outcome(SymbolicShape? shape) => new(shape, null);
    }
}
