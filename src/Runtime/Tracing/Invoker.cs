namespace NnSight;

/// <summary>
/// One invocation of a trace: its input's rows of the batch. Accesses recorded while it is open belong to it; after
/// <see cref="Next"/> they bind to the modules' next forward pass (the next generated token).
/// </summary>
public sealed class Invoker : IDisposable
{
    private readonly Tracer _tracer;

    internal Invoker(Tracer tracer, int index)
    {
        _tracer = tracer;
        Index = index;
    }

    /// <summary>The invocation's position in the trace (its rows come in this order in the batch).</summary>
    public int Index { get; }

    /// <summary>The forward pass the following accesses bind to: 0 for the prompt, k after k calls of <see cref="Next"/>.</summary>
    public int Step { get; private set; }

    /// <summary>Binds the accesses that follow to the modules' next forward pass.</summary>
    public void Next() => Step++;

    /// <summary>Ends the invocation.</summary>
    public void Dispose() => _tracer.EndInvocation(this);
}
