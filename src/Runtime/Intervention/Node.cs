using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>Where in a source file a proxy was created.</summary>
/// <param name="File">The source file path.</param>
/// <param name="Line">The 1-based line.</param>
public sealed record SourceLocation(string File, int Line)
{
    /// <summary><c>Program.cs:12</c>.</summary>
    public override string ToString() => $"{Path.GetFileName(File)}:{Line}";
}

/// <summary>Which value of a module an access reads or writes.</summary>
public enum AccessKind
{
    /// <summary>The module's output (a tensor or a tuple).</summary>
    Output,

    /// <summary>The module's first positional argument.</summary>
    Input,

    /// <summary>All the module's positional arguments as a tuple.</summary>
    Inputs,
}

/// <summary>A module access of the graph: which module, which value, in which invocation and on which call.</summary>
/// <param name="Path">The module's path (<c>transformer.h.3</c>; "" is the root).</param>
/// <param name="Kind">Output, input or all inputs.</param>
/// <param name="Invocation">The invocation whose rows are accessed.</param>
/// <param name="Call">Which call of the module (0 for the first forward pass, k after k <c>Next()</c>).</param>
public sealed record ModuleAccess(string Path, AccessKind Kind, int Invocation, int Call)
{
    /// <summary><c>transformer.h.3.output</c>, with <c>(step 2)</c> after the first call.</summary>
    public override string ToString()
    {
        var value = Kind switch { AccessKind.Output => "output", AccessKind.Input => "input", _ => "inputs" };
        var name = Path.Length == 0 ? value : $"{Path}.{value}";
        return Call == 0 ? name : $"{name} (step {Call})";
    }
}

/// <summary>A reference to another node's value, as an argument.</summary>
/// <param name="Id">The referenced node.</param>
public readonly record struct NodeRef(int Id);

/// <summary>A reference to a kept value of an earlier trace of the same session, as an argument.</summary>
/// <param name="Trace">The earlier trace's position in the session.</param>
/// <param name="Node">The node in that trace's graph.</param>
internal readonly record struct SessionRef(int Trace, int Node);

/// <summary>Which tokens <c>Token[...]</c> selects: one position or a range, counted from the prompt's first real
/// token (or from the end for <c>^</c> indices).</summary>
/// <param name="Index">A single position, or null for a range.</param>
/// <param name="Range">A range of positions, or null for a single one.</param>
internal sealed record TokenSelector(Index? Index, Range? Range);

/// <summary>
/// One operation of the intervention graph: an op name from the op registry, its arguments (node references
/// or constants), and for module operations the module access. Nodes are created in program order; ids are their
/// positions in the graph.
/// </summary>
public sealed class Node
{
    /// <exception cref="KeyNotFoundException"><paramref name="op"/> is not an op of the registry.</exception>
    internal Node(int id, string op, IReadOnlyList<object?> args, ModuleAccess? access = null, SourceLocation? source = null,
        Func<Tensor, Tensor>? localFunction = null)
    {
        Id = id;
        Op = op;
        Definition = OpRegistry.Get(op);
        Args = args;
        Access = access;
        Source = source;
        LocalFunction = localFunction;
    }

    /// <summary>The node's position in the graph.</summary>
    public int Id { get; }

    /// <summary>The op name, one of the registry's.</summary>
    public string Op { get; }

    /// <summary>The op's registry entry.</summary>
    internal OpDefinition Definition { get; }

    /// <summary>The arguments: <see cref="NodeRef"/> for other nodes' values, constants otherwise.</summary>
    public IReadOnlyList<object?> Args { get; }

    /// <summary>The module access of getters, setters, token selections and module calls.</summary>
    public ModuleAccess? Access { get; }

    /// <summary>Where the proxy was created, for error messages.</summary>
    public SourceLocation? Source { get; }

    /// <summary>The local function of an <c>apply</c> node (never serialized).</summary>
    internal Func<Tensor, Tensor>? LocalFunction { get; }

    /// <summary>Whether the value is kept after the run.</summary>
    public bool Saved { get; internal set; }

    /// <summary>
    /// Whether the run may never reach this node without an error: the step copies of <c>All()</c> and <c>Steps()</c>
    /// (a generation can end at eos before the last step).
    /// </summary>
    public bool Optional { get; internal set; }

    /// <summary>Whether a later trace of the session reads this value, so it outlives its own trace (without being saved).</summary>
    internal bool Kept { get; set; }

    /// <summary>The nodes this node reads.</summary>
    public IEnumerable<int> Dependencies => Args.SelectMany(Referenced);

    private static IEnumerable<int> Referenced(object? argument) => argument switch
    {
        NodeRef reference => [reference.Id],
        IEnumerable<object?> list => list.SelectMany(Referenced),
        _ => [],
    };
}
