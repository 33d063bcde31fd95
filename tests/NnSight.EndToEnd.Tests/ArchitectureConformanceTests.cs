using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using NnSight.Models;
using NnSight.Models.Gpt2;
using NnSight.Models.Llama;
using NnSight.Models.Modules;
using NnSight.Serialization;
using NnSight.TestSupport;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.EndToEnd.Tests;

/// <summary>
/// Each implemented architecture against its generated typed tree on a tiny checkpoint: every <c>[Module]</c> and
/// <c>[ModuleList]</c> path is a module of the model and every module of the model is typed; the forward order the
/// attributes give (what NNS0106 compares) is the order in which module outputs complete, at every step; the shape
/// rules give every module's output and inputs as proxies report them before the run and as the run produces them;
/// and the <c>[Shape]</c> metadata (what NNS0111 reads), with the pass's sizes put in, says the same as the rules.
/// </summary>
public sealed class ArchitectureConformanceTests
{
    [Fact]
    public void Gpt2_conforms_on_tiny_gpt2()
    {
        using var model = TinyGpt2.FromPretrained(RepositoryPaths.TinyGpt2);

        Conformance.Check(model);
    }

    [Theory]
    [InlineData("tiny-llama")]
    [InlineData("tiny-llama-bias")]
    public void Llama_conforms_on_the_tiny_llamas(string checkpoint)
    {
        using var model = TinyLlama.FromPretrained(Path.Combine(RepositoryPaths.Root, "models", checkpoint));

        Conformance.Check(model);
    }

    [Fact]
    public void Mistral_conforms_on_the_tiny_llama_with_a_mistral_config()
    {
        using var folder = new TemporaryFolder();
        // Mistral's layers are Llama's without biases, so tiny-llama's weights load as they are.
        DerivedCheckpoint.Write(folder.FullPath, "tiny-mistral.json", RepositoryPaths.TinyLlama, _ => true);
        using var model = TinyMistral.FromPretrained(folder.FullPath);

        Assert.IsType<MistralConfig>(model.Config);
        Conformance.Check(model);
    }

    [Fact]
    public void Qwen2_conforms_on_the_tiny_llama_with_biases_and_a_qwen2_config()
    {
        using var folder = new TemporaryFolder();
        // Qwen2 has q/k/v biases but none on o_proj: the loader would refuse tiny-llama-bias's o_proj biases as unexpected.
        DerivedCheckpoint.Write(folder.FullPath, "tiny-qwen2.json", RepositoryPaths.TinyLlamaBias, name => !name.EndsWith(".o_proj.bias", StringComparison.Ordinal));
        using var model = TinyQwen2.FromPretrained(folder.FullPath);

        Assert.IsType<Qwen2Config>(model.Config);
        Conformance.Check(model);
    }
}

/// <summary>A model folder derived from a bundled one: a config from this project's Configs folder (also the typed
/// class's compile-time config), the bundled generation defaults, and the bundled weights <c>keep</c> selects.</summary>
internal static class DerivedCheckpoint
{
    public static void Write(string folder, string config, string source, Func<string, bool> keep)
    {
        File.Copy(Path.Combine(RepositoryPaths.Root, "tests", "NnSight.EndToEnd.Tests", "Configs", config), Path.Combine(folder, "config.json"));
        File.Copy(Path.Combine(source, "generation_config.json"), Path.Combine(folder, "generation_config.json"));
        using var weights = SafetensorsFile.Open(Path.Combine(source, "model.safetensors"));
        var tensors = weights.Tensors.Keys.Where(keep).Select(name => new KeyValuePair<string, Tensor>(name, weights.Read(name))).ToList();
        try
        {
            SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors);
        }
        finally
        {
            tensors.ForEach(pair => pair.Value.Dispose());
        }
    }
}

/// <summary>The checks every architecture passes.</summary>
internal static class Conformance
{
    /// <summary>Prompts of unequal lengths in two invocations (one row, then two), so rows are left-padded to 5.</summary>
    private static readonly long[][][] TwoInvocations = [[[31, 7, 250]], [[12, 48, 3, 77, 150], [64, 9, 201, 33]]];

    private static readonly Scenario[] Scenarios =
    [
        new("one invocation", [[[5, 17, 42, 8, 99, 23]]], Steps: 1, Generate: false),
        new("two left-padded invocations", TwoInvocations, Steps: 1, Generate: false),
        new("generation with the cache", TwoInvocations, Steps: 3, Generate: true),
    ];

    private sealed record Scenario(string Name, long[][][] Invocations, int Steps, bool Generate);

    /// <summary>What the shape rules say of one module value of one invocation at one step, and its proxy.</summary>
    private sealed record Expectation(string Path, int Invocation, int Step, bool IsOutput, ValueShape? Rule, TensorProxy Proxy, string Label,
        string? Metadata, ForwardShape Forward);

    public static void Check(LanguageModel model)
    {
        var tree = TypedTree.Read(model);
        tree.AssertDescribes(model);
        tree.AssertShapesAgree(model);
        CheckCalls(model, tree);
        foreach (var scenario in Scenarios)
        {
            Run(model, tree, scenario);
        }
    }

    /// <summary>
    /// What NNS0111 assumes of <c>Call(x)</c>, on every module that takes one tensor of a known width: an
    /// <c>Elementwise</c> module keeps any shape, every other one refuses another width, and maps <c>[2, width]</c> and
    /// <c>[2, 3, width]</c> to the same leading sizes with its output's last size.
    /// </summary>
    private static void CheckCalls(LanguageModel model, TypedTree tree)
    {
        using var noGrad = no_grad();
        var dtype = model.Module.parameters().First().dtype;
        foreach (var module in tree.Modules.Where(module => module.Shape?.Input is not null))
        {
            if (module.Envoy.Module is not nn.Module<Tensor, Tensor> single
                || !long.TryParse(module.Shape!.Input!.Trim('[', ']').Split(", ")[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var width))
            {
                continue;
            }
            var output = SymbolicShapeText.Instantiate(module.Shape.Shape, 2, 3, 0).Trim('[', ']').Split(", ")[^1];
            using var wider = randn(2, width + 1, dtype: dtype);
            if (module.Shape.Elementwise)
            {
                using var kept = single.call(wider);
                Assert.Equal(wider.shape, kept.shape);
                continue;
            }
            Assert.ThrowsAny<Exception>(() => single.call(wider).Dispose());
            foreach (long[] leading in new[] { new long[] { 2 }, [2, 3] })
            {
                using var input = randn([.. leading, width], dtype: dtype);
                using var result = single.call(input);
                Assert.True(result.shape.SequenceEqual([.. leading, long.Parse(output, CultureInfo.InvariantCulture)]),
                    $"{module.Path}.Call({Shapes(input.shape)}) gave {Shapes(result.shape)}.");
            }
        }

        static string Shapes(long[] dims) => "[" + string.Join(", ", dims) + "]";
    }

    private static void Run(LanguageModel model, TypedTree tree, Scenario scenario)
    {
        var rules = model.ShapeRules;
        var padded = scenario.Invocations.SelectMany(rows => rows).Max(row => row.Length);
        var expectations = new List<Expectation>();
        var mismatches = new List<string>();
        using var calls = new ModuleCalls(model.Module);
        Tracer tracer = scenario.Generate ? model.Generate(maxNewTokens: scenario.Steps) : model.Trace();
        using (tracer)
        {
            for (var invocation = 0; invocation < scenario.Invocations.Length; invocation++)
            {
                var rows = scenario.Invocations[invocation];
                using var invoker = tracer.Invoke(new InvocationInput.Ids([.. rows.Select(ids => new TokenRow(ids))]));
                for (var step = 0; step < scenario.Steps; step++)
                {
                    if (step > 0)
                    {
                        invoker.Next();
                    }
                    // The prompt pass computes every padded position; each later step one position over the cache.
                    var forward = step == 0 ? new ForwardShape(rows.Length, padded, 0) : new ForwardShape(rows.Length, 1, padded + step - 1);
                    foreach (var (path, envoy, shape) in tree.Modules.Select(module => (module.Path, module.Envoy, module.Shape)).Prepend(("", model.Root, tree.RootShape)))
                    {
                        var label = $"{scenario.Name}, invocation {invocation}, step {step}: {(path.Length == 0 ? "the model" : path)}";
                        expectations.Add(new(path, invocation, step, true, rules.Output(path, forward), envoy.Output, label + ".Output", shape?.Shape, forward));
                        expectations.Add(new(path, invocation, step, false, rules.Inputs(path, forward), envoy.Inputs, label + ".Inputs", shape?.Input, forward));
                    }
                }
            }
            // Read once every invocation is recorded: the padded length depends on all of them.
            foreach (var expectation in expectations.Where(expectation => expectation.Rule is not null))
            {
                CheckProxy(expectation.Proxy, expectation.Rule, expectation.Label, mismatches);
            }
        }
        tracer.Output.Dispose();

        Assert.Equal(tree.ListPaths, calls.Unhooked);
        var passes = calls.Passes();
        Assert.Equal(scenario.Steps, passes.Count);
        foreach (var pass in passes)
        {
            Assert.Equal(tree.ForwardOrder, pass);
        }

        var batch = scenario.Invocations.Sum(rows => rows.Length);
        foreach (var expectation in expectations.Where(expectation => expectation.Metadata is not null))
        {
            var forward = expectation.Forward;
            var metadata = SymbolicShapeText.Instantiate(expectation.Metadata!, forward.Rows, forward.Positions, forward.PastPositions);
            var rule = SymbolicShapeText.Of(expectation.IsOutput ? expectation.Rule : (expectation.Rule as TupleShape)?.Elements[0]);
            if (metadata != rule)
            {
                mismatches.Add($"{expectation.Label}: [Shape] gives {metadata} ({expectation.Metadata}), the rules {rule}.");
            }
        }
        foreach (var expectation in expectations)
        {
            var call = calls.Of(expectation.Path)[expectation.Step];
            var observed = ValueShapes.OfRows(expectation.IsOutput ? call.Output : call.Inputs, batch, scenario.Invocations[expectation.Invocation].Length);
            if (expectation.Rule is null)
            {
                mismatches.Add($"{expectation.Label}: no shape rule; the run gave {ValueShapes.Describe(observed)}.");
            }
            else if (ValueShapes.Describe(expectation.Rule) != ValueShapes.Describe(observed))
            {
                mismatches.Add($"{expectation.Label}: the rules give {ValueShapes.Describe(expectation.Rule)}, the run gave {ValueShapes.Describe(observed)}.");
            }
        }
        Assert.True(mismatches.Count == 0, $"{scenario.Name}: {mismatches.Count} shape mismatch(es), the first {Math.Min(mismatches.Count, 30)}:\n{string.Join("\n", mismatches.Take(30))}");
    }

    /// <summary>Checks the runtime's shape of every tensor in <paramref name="proxy"/> (reached through its elements) against <paramref name="rule"/>.</summary>
    private static void CheckProxy(TensorProxy proxy, ValueShape? rule, string label, List<string> mismatches)
    {
        switch (rule)
        {
            case TensorShape tensor:
                try
                {
                    var inferred = new TensorShape(proxy.shape, proxy.dtype);
                    if (ValueShapes.Describe(inferred) != ValueShapes.Describe(tensor))
                    {
                        mismatches.Add($"{label}: the proxy says {ValueShapes.Describe(inferred)}, the rules {ValueShapes.Describe(tensor)}.");
                    }
                }
                catch (ShapeUnknownException error)
                {
                    mismatches.Add($"{label}: {error.Message}");
                }
                break;
            case TupleShape tuple:
                for (var index = 0; index < tuple.Elements.Count; index++)
                {
                    if (tuple.Elements[index] is { } element)
                    {
                        CheckProxy(proxy[index], element, $"{label}[{index}]", mismatches);
                    }
                }
                break;
        }
    }
}

/// <summary>Shape structures of values and rules, compared by their text (dtype and sizes of every element).</summary>
internal static class ValueShapes
{
    public static ValueShape? Of(object? value) => value switch
    {
        Tensor tensor => new TensorShape(tensor.shape, tensor.dtype),
        ITuple tuple => new TupleShape([.. Enumerable.Range(0, tuple.Length).Select(index => Of(tuple[index]))]),
        _ => null,
    };

    /// <summary>One invocation's part of a batch value: the runtime narrows every tensor's first dimension to its rows.</summary>
    public static ValueShape? OfRows(ValueShape? shape, long batch, long rows) => shape switch
    {
        TensorShape tensor when tensor.Dims.Length > 0 && tensor.Dims[0] == batch => tensor with { Dims = [rows, .. tensor.Dims[1..]] },
        TupleShape tuple => new TupleShape([.. tuple.Elements.Select(element => OfRows(element, batch, rows))]),
        _ => shape,
    };

    public static string Describe(ValueShape? shape) => shape switch
    {
        null => "None",
        TensorShape tensor => $"{tensor.Dtype}{tensor}",
        TupleShape tuple => "(" + string.Join(", ", tuple.Elements.Select(Describe)) + ")",
        _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, "Not a tensor or tuple shape."),
    };
}

/// <summary>A typed module: its path, its absolute forward order, its typed envoy, and its member's <c>[Shape]</c>.</summary>
internal sealed record TypedModule(string Path, int Order, Envoy Envoy, ShapeAttribute? Shape);

/// <summary>
/// The generated tree of a typed model, read from its <c>[Module]</c> and <c>[ModuleList]</c> attributes as
/// ModuleLocations reads them: relative members add their list element's first order, element <c>i</c> of a list
/// starts at <c>FirstOrder + i·Stride</c>, and the element itself is its last output.
/// </summary>
internal sealed class TypedTree
{
    private readonly List<TypedModule> _modules = [];
    private readonly List<(string Path, int Length)> _lists = [];

    private TypedTree()
    {
    }

    public IReadOnlyList<TypedModule> Modules => _modules;

    /// <summary>The <c>[Shape]</c> of the typed model's own <c>Output</c>.</summary>
    public ShapeAttribute? RootShape { get; private set; }

    public IReadOnlyList<string> ListPaths => [.. _lists.Select(list => list.Path).Order(StringComparer.Ordinal)];

    /// <summary>The typed paths by forward order.</summary>
    public IReadOnlyList<string> ForwardOrder => [.. _modules.OrderBy(module => module.Order).Select(module => module.Path)];

    public static TypedTree Read(LanguageModel model)
    {
        var tree = new TypedTree { RootShape = OutputShape(model) };
        tree.Walk(model, element: null, elementBase: 0);
        return tree;
    }

    /// <summary>
    /// Every module has a <c>[Shape]</c>; a typed envoy's own <c>Output</c> carries its member's shape; and the
    /// elements of a typed tuple output (in declaration order, as generated) carry the tuple's elements.
    /// </summary>
    public void AssertShapesAgree(LanguageModel model)
    {
        Assert.NotNull(RootShape);
        AssertElements(model.GetType(), RootShape.Shape);
        foreach (var module in _modules)
        {
            Assert.True(module.Shape is not null, $"{module.Path} has no [Shape].");
            if (OutputShape(module.Envoy) is { } typed)
            {
                Assert.Equal(module.Shape.Shape, typed.Shape);
                AssertElements(module.Envoy.GetType(), typed.Shape);
            }
        }
    }

    private static ShapeAttribute? OutputShape(object owner) =>
        owner.GetType().GetProperty("Output", BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)?.GetCustomAttribute<ShapeAttribute>();

    private static void AssertElements(Type owner, string tuple)
    {
        var outputType = owner.GetProperty("Output", BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)!.PropertyType;
        var elements = outputType.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .OrderBy(property => property.MetadataToken).Select(property => property.GetCustomAttribute<ShapeAttribute>()?.Shape);
        Assert.Equal(SymbolicShapeText.Elements(tuple), elements);
    }

    /// <summary>Every typed path is the model's module there, every module of the model is typed, and orders are 0..n−1.</summary>
    public void AssertDescribes(LanguageModel model)
    {
        foreach (var (path, _, envoy, _) in _modules)
        {
            Assert.Same(model.ModuleAt(path), envoy.Module);
            Assert.Same(envoy.Module, model.Envoy(path).Module);
        }
        foreach (var (path, length) in _lists)
        {
            var list = model.ModuleAt(path);
            Assert.True(list.GetType().IsGenericType && list.GetType().GetGenericTypeDefinition() == typeof(ModuleList<>), $"{path} is a {list.GetType().Name}, not a ModuleList.");
            Assert.Equal(length, list.named_children().Count());
        }
        // The root is not a member: it is the typed class itself (model.Output).
        var typed = _modules.Select(module => module.Path).Concat(_lists.Select(list => list.Path)).Order(StringComparer.Ordinal);
        Assert.Equal(typed, model.Module.named_modules().Select(module => module.name).Where(name => name.Length > 0).Order(StringComparer.Ordinal));
        Assert.Equal(Enumerable.Range(0, _modules.Count), _modules.Select(module => module.Order).Order());
    }

    private void Walk(object owner, string? element, int elementBase)
    {
        foreach (var property in owner.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<ModuleAttribute>() is { } module)
            {
                Assert.Equal(element is not null, module.Relative);
                var envoy = (Envoy)property.GetValue(owner)!;
                Add(envoy, Join(element, module.Path), (module.Relative ? elementBase : 0) + module.Order, property.GetCustomAttribute<ShapeAttribute>());
                Walk(envoy, element, elementBase);
            }
            else if (property.GetCustomAttribute<ModuleListAttribute>() is { } list)
            {
                Assert.Equal(element is not null, list.Relative);
                var path = Join(element, list.Path);
                var first = (list.Relative ? elementBase : 0) + list.FirstOrder;
                var elements = ((IEnumerable<Envoy>)property.GetValue(owner)!).ToList();
                Assert.Equal(list.Length, elements.Count);
                _lists.Add((path, list.Length));
                for (var index = 0; index < elements.Count; index++)
                {
                    var start = first + index * list.Stride;
                    Add(elements[index], $"{path}.{index}", start + list.Stride - 1, property.GetCustomAttribute<ShapeAttribute>());
                    Walk(elements[index], $"{path}.{index}", start);
                }
            }
        }
    }

    private void Add(Envoy envoy, string path, int order, ShapeAttribute? shape)
    {
        Assert.Equal(path, envoy.Path);
        _modules.Add(new TypedModule(path, order, envoy, shape));
    }

    private static string Join(string? element, string path) => element is null ? path : $"{element}.{path}";
}

/// <summary>One module call: its path, the shapes of its positional arguments and of its output.</summary>
internal sealed record ModuleCall(string Path, TupleShape Inputs, ValueShape? Output);

/// <summary>
/// Every module call of the runs while it lives, in the order outputs complete, through plain TorchSharp forward
/// hooks on each module by its forward signature. Shapes are taken at once, so no tensor is kept.
/// </summary>
internal sealed class ModuleCalls : IDisposable
{
    private readonly List<Action> _removers = [];
    private readonly List<ModuleCall> _calls = [];
    private readonly List<string> _unhooked = [];

    public ModuleCalls(CausalLanguageModel root)
    {
        foreach (var (path, module) in root.named_modules().Where(entry => entry.name.Length > 0).Prepend(("", root)))
        {
            Action? remove = module switch
            {
                CausalLanguageModel model => model.register_forward_hook((_, ids, cache, mask, positions, keep, output) => Keep(path, [ids, cache, mask, positions, keep], output)).remove,
                nn.Module<Tensor, KeyValueCache?, Tensor?, Tensor?, (Tensor, KeyValueCache)> stack => stack.register_forward_hook((_, ids, cache, mask, positions, output) => Keep(path, [ids, cache, mask, positions], output)).remove,
                GPT2Block block => block.register_forward_hook((_, hidden, past, mask, output) => Keep(path, [hidden, past, mask], output)).remove,
                GPT2Attention attention => attention.register_forward_hook((_, hidden, past, mask, output) => Keep(path, [hidden, past, mask], output)).remove,
                LlamaDecoderLayer layer => layer.register_forward_hook((_, hidden, mask, positions, past, output) => Keep(path, [hidden, mask, positions, past], output)).remove,
                LlamaAttention attention => attention.register_forward_hook((_, hidden, mask, positions, past, output) => Keep(path, [hidden, mask, positions, past], output)).remove,
                LlamaRotaryEmbedding rotary => rotary.register_forward_hook((_, values, positions, output) => Keep(path, [values, positions], output)).remove,
                nn.Module<Tensor, Tensor> single => single.register_forward_hook((_, input, output) => Keep(path, [input], output)).remove,
                _ => null,
            };
            if (remove is null)
            {
                _unhooked.Add(path);
            }
            else
            {
                _removers.Add(remove);
            }
        }
    }

    /// <summary>The modules without a hook (module lists, which are never called), sorted.</summary>
    public IReadOnlyList<string> Unhooked => [.. _unhooked.Order(StringComparer.Ordinal)];

    /// <summary>The calls of <paramref name="path"/>, first first.</summary>
    public IReadOnlyList<ModuleCall> Of(string path) => [.. _calls.Where(call => call.Path == path)];

    /// <summary>Each forward pass's module paths in completion order, without the root, whose completion ends the pass.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Passes()
    {
        var passes = new List<IReadOnlyList<string>>();
        var current = new List<string>();
        foreach (var call in _calls)
        {
            if (call.Path.Length == 0)
            {
                passes.Add(current);
                current = [];
            }
            else
            {
                current.Add(call.Path);
            }
        }
        Assert.Empty(current);
        return passes;
    }

    public void Dispose() => _removers.ForEach(remove => remove());

    private T Keep<T>(string path, object?[] inputs, T output)
    {
        _calls.Add(new ModuleCall(path, new TupleShape([.. inputs.Select(ValueShapes.Of)]), ValueShapes.Of(output)));
        return output;
    }
}
