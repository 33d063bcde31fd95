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
    public int Step { get; internal set; }

    /// <summary>Binds the accesses that follow to the modules' next forward pass.</summary>
    /// <exception cref="TracingException">Called inside <see cref="All"/> or <see cref="Steps"/>, which cover their steps themselves.</exception>
    public void Next()
    {
        _tracer.RequireNoStepScope("Next()");
        Step++;
    }

    /// <summary>
    /// Applies what is recorded until the returned scope is disposed at every forward pass from the current step to the
    /// last of the generation (nnsight's <c>.all()</c>); a value saved inside has one tensor per step in
    /// <see cref="TensorProxy.Values"/>. After the scope, accesses bind to the current step again.
    /// </summary>
    public IDisposable All() => _tracer.BeginSteps(this, Step..);

    /// <summary>
    /// Applies what is recorded until the returned scope is disposed at the forward passes <paramref name="steps"/>
    /// (0 is the prompt), as <see cref="All"/> does for every step.
    /// </summary>
    /// <exception cref="TracingException">The range is empty or past the generation's last step.</exception>
    public IDisposable Steps(Range steps) => _tracer.BeginSteps(this, steps);

    /// <summary>Ends the invocation.</summary>
    public void Dispose() => _tracer.EndInvocation(this);
}
