namespace NnSight;

/// <summary>
/// A tracing context around generation: the model runs once per new token, and <see cref="Invoker.Next"/> moves an
/// invocation's accesses to the next forward pass. After the run, <see cref="Tracer.Output"/> holds the token ids,
/// int64 <c>[batch, padded prompt + new tokens]</c>, owned by the caller.
/// </summary>
public sealed class GenerationTracer : Tracer
{
    internal GenerationTracer(NnSightModel model, GenerationOptions options, RemoteSettings? remote = null)
        : base(model, options, remote: remote)
    {
    }

    /// <summary>The generation options of the run.</summary>
    public GenerationOptions Options => Generation!;
}
