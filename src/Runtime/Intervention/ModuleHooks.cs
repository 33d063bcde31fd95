using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>
/// Forward hooks and calls on any TorchSharp <c>Module&lt;T1..Tn, TResult&gt;</c> through untyped delegates. TorchSharp
/// types its hooks by the module's signature; the adapters for each closed module type are compiled once and cached.
/// </summary>
internal static class ModuleHooks
{
    /// <summary>Sees a module's arguments and output; returns the output to continue with.</summary>
    public delegate object? OutputHook(object?[] arguments, object? output);

    /// <summary>Sees a module's arguments before it runs; returns replaced arguments, or null to keep them.</summary>
    public delegate object?[]? InputHook(object?[] arguments);

    private sealed record Adapter(
        int Arity,
        Func<nn.Module, OutputHook, Action> AttachOutput,
        Func<nn.Module, InputHook, Action> AttachInput,
        Func<nn.Module, object?[], object?> Invoke);

    private static readonly Type[] ModuleDefinitions =
    [
        typeof(nn.Module<,>), typeof(nn.Module<,,>), typeof(nn.Module<,,,>),
        typeof(nn.Module<,,,,>), typeof(nn.Module<,,,,,>), typeof(nn.Module<,,,,,,>),
    ];

    private static readonly ConcurrentDictionary<Type, Adapter?> Adapters = new();

    /// <summary>Whether the module has a typed forward that hooks and calls can reach (a ModuleList has none).</summary>
    public static bool IsCallable(nn.Module module) => Find(module) is not null;

    /// <summary>The number of positional arguments of the module's forward.</summary>
    public static int Arity(nn.Module module) => Require(module).Arity;

    /// <summary>Registers <paramref name="hook"/> after the module's forward; returns the action that removes it.</summary>
    public static Action AddOutputHook(nn.Module module, OutputHook hook) => Require(module).AttachOutput(module, hook);

    /// <summary>Registers <paramref name="hook"/> before the module's forward; returns the action that removes it.</summary>
    public static Action AddInputHook(nn.Module module, InputHook hook) => Require(module).AttachInput(module, hook);

    /// <summary>Calls the module (hooks included) with <paramref name="arguments"/>.</summary>
    public static object? Invoke(nn.Module module, object?[] arguments)
    {
        var adapter = Require(module);
        if (arguments.Length != adapter.Arity)
        {
            throw new ArgumentException($"{module.GetType().Name} takes {adapter.Arity} argument(s); {arguments.Length} were given.");
        }
        return adapter.Invoke(module, arguments);
    }

    private static Adapter Require(nn.Module module) =>
        Find(module) ?? throw new InterventionException(
            $"{module.GetType().Name} has no typed forward (it is not a Module<T..., TResult>), so it cannot be hooked or called.");

    private static Adapter? Find(nn.Module module) => Adapters.GetOrAdd(module.GetType(), Build);

    private static Adapter? Build(Type type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.IsGenericType && Array.IndexOf(ModuleDefinitions, current.GetGenericTypeDefinition()) >= 0)
            {
                return Build(current, current.GetGenericArguments());
            }
        }
        return null;
    }

    private static Adapter Build(Type moduleType, Type[] typeArguments)
    {
        var argumentTypes = typeArguments[..^1];
        var resultType = typeArguments[^1];
        var hookTypes = moduleType.BaseType!.GetGenericArguments();
        var (preHookType, postHookType) = (hookTypes[0], hookTypes[1]);
        var register = moduleType.GetMethod("register_forward_hook", [postHookType])!;
        var registerPre = moduleType.GetMethod("register_forward_pre_hook", [preHookType])!;
        var remove = register.ReturnType.GetMethod("remove")!;
        var call = moduleType.GetMethod("call", argumentTypes)!;

        var attachOutput = CompileAttach<OutputHook>(moduleType, register, remove, hook =>
        {
            var (self, inputs) = HookParameters(postHookType, argumentTypes);
            var result = Expression.Parameter(resultType, "result");
            var body = Expression.Convert(Expression.Invoke(hook, Pack(inputs), Expression.Convert(result, typeof(object))), resultType);
            return Expression.Lambda(postHookType, body, [self, .. inputs, result]);
        });
        var attachInput = CompileAttach<InputHook>(moduleType, registerPre, remove, hook =>
        {
            var (self, inputs) = HookParameters(preHookType, argumentTypes);
            return Expression.Lambda(preHookType, PreHookBody(hook, inputs, preHookType), [self, .. inputs]);
        });
        return new Adapter(argumentTypes.Length, attachOutput, attachInput, CompileInvoke(moduleType, call, argumentTypes));
    }

    private static (ParameterExpression Self, ParameterExpression[] Inputs) HookParameters(Type hookType, Type[] argumentTypes) =>
        (Expression.Parameter(hookType.GetGenericArguments()[0], "self"),
         [.. argumentTypes.Select((type, i) => Expression.Parameter(type, $"input{i}"))]);

    /// <summary>Builds <c>(module, hook) =&gt; (Action)module.register(typedHook(hook)).remove</c>.</summary>
    private static Func<nn.Module, THook, Action> CompileAttach<THook>(Type moduleType, MethodInfo register, MethodInfo remove,
        Func<ParameterExpression, LambdaExpression> typedHook)
    {
        var module = Expression.Parameter(typeof(nn.Module), "module");
        var hook = Expression.Parameter(typeof(THook), "hook");
        var remover = Expression.Call(Expression.Convert(module, moduleType), register, typedHook(hook));
        var createDelegate = typeof(Delegate).GetMethod(nameof(Delegate.CreateDelegate), [typeof(Type), typeof(object), typeof(MethodInfo)])!;
        var removeAction = Expression.Convert(
            Expression.Call(createDelegate, Expression.Constant(typeof(Action)), Expression.Convert(remover, typeof(object)), Expression.Constant(remove)),
            typeof(Action));
        return Expression.Lambda<Func<nn.Module, THook, Action>>(removeAction, module, hook).Compile();
    }

    /// <summary>A pre-hook body: call the untyped hook; keep the arguments when it returns null, else unpack its array.</summary>
    private static Expression PreHookBody(ParameterExpression hook, ParameterExpression[] inputs, Type preHookType)
    {
        var returnType = preHookType.GetGenericArguments()[^1];
        var replaced = Expression.Variable(typeof(object[]), "replaced");
        Expression unchanged;
        Expression fromArray;
        if (inputs.Length == 1)
        {
            unchanged = inputs[0];
            fromArray = Expression.Convert(Expression.ArrayIndex(replaced, Expression.Constant(0)), returnType);
        }
        else
        {
            var tupleType = Nullable.GetUnderlyingType(returnType)!;
            unchanged = Expression.Constant(null, returnType);
            var items = inputs.Select((input, i) => (Expression)Expression.Convert(Expression.ArrayIndex(replaced, Expression.Constant(i)), input.Type));
            fromArray = Expression.Convert(Expression.New(tupleType.GetConstructor([.. inputs.Select(input => input.Type)])!, items), returnType);
        }
        return Expression.Block(returnType, [replaced],
            Expression.Assign(replaced, Expression.Invoke(hook, Pack(inputs))),
            Expression.Condition(Expression.Equal(replaced, Expression.Constant(null, typeof(object[]))), unchanged, fromArray));
    }

    private static Func<nn.Module, object?[], object?> CompileInvoke(Type moduleType, MethodInfo call, Type[] argumentTypes)
    {
        var module = Expression.Parameter(typeof(nn.Module), "module");
        var arguments = Expression.Parameter(typeof(object[]), "arguments");
        var typedArguments = argumentTypes.Select((type, i) => Expression.Convert(Expression.ArrayIndex(arguments, Expression.Constant(i)), type));
        var invoke = Expression.Call(Expression.Convert(module, moduleType), call, typedArguments);
        return Expression.Lambda<Func<nn.Module, object?[], object?>>(Expression.Convert(invoke, typeof(object)), module, arguments).Compile();
    }

    private static NewArrayExpression Pack(IEnumerable<ParameterExpression> inputs) =>
        Expression.NewArrayInit(typeof(object), inputs.Select(input => Expression.Convert(input, typeof(object))));
}
