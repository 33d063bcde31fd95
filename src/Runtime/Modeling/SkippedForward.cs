using System.Diagnostics.CodeAnalysis;
using static TorchSharp.torch;

namespace NnSight;

/// <summary>
/// Lets a module's forward not run when <see cref="Envoy.Skip"/> skips it. TorchSharp's <c>call</c> always runs
/// <c>forward</c>, so a hook can replace a module's result but not prevent the computation. A forward that begins with
/// <c>if (SkippedForward.TryTake(this, out TResult output)) return output;</c> returns the skip value instead, when
/// every invocation of the batch skips that call. NnSight's GPT-2 and Llama modules begin so; a module without the line
/// still computes, and its result is replaced.
/// </summary>
public static class SkippedForward
{
    [ThreadStatic]
    private static nn.Module? _module;

    [ThreadStatic]
    private static object? _output;

    /// <summary>
    /// Takes the output the running intervention gives <paramref name="module"/> in place of its forward, if it is
    /// skipped in this call and the value has the module's result type.
    /// </summary>
    /// <param name="module">The module whose forward is starting (<c>this</c>).</param>
    /// <param name="output">The value to return from the forward.</param>
    /// <returns>Whether the forward should return <paramref name="output"/> without computing.</returns>
    public static bool TryTake<TResult>(nn.Module module, [MaybeNullWhen(false)] out TResult output)
    {
        if (ReferenceEquals(module, _module) && _output is TResult offered)
        {
            (_module, _output) = (null, null);
            output = offered;
            return true;
        }
        output = default;
        return false;
    }

    /// <summary>Offers <paramref name="output"/> to the forward of <paramref name="module"/>, which runs next on this thread.</summary>
    internal static void Offer(nn.Module module, object output) => (_module, _output) = (module, output);

    /// <summary>Takes back an offer to <paramref name="module"/> its forward did not take.</summary>
    internal static void Withdraw(nn.Module module)
    {
        if (ReferenceEquals(module, _module))
        {
            (_module, _output) = (null, null);
        }
    }
}
