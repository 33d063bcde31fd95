using NnSight.Intervention;

namespace NnSight;

/// <summary>
/// A session (nnsight's <c>model.session()</c>): the traces and generations recorded inside it run, in order, when it is
/// disposed, as one unit: locally, or remotely as one request. A proxy of an earlier trace can be used in a later one
/// without <c>Save()</c>; its value passes from trace to trace inside the run and is never returned. If an exception is
/// propagating out of the session block, nothing runs. See docs/architecture.md#sessions.
/// </summary>
public sealed class Session : IDisposable
{
    private readonly NnSightModel _model;
    private readonly RemoteSettings? _remote;
    private readonly ExceptionWatch _exceptions = new();
    private readonly List<Tracer> _traces = [];
    private bool _disposed;

    internal Session(NnSightModel model, RemoteSettings? remote)
    {
        _model = model;
        _remote = remote;
    }

    /// <summary>The remote job once a remote session is disposed (poll it, or <c>Wait()</c> for a non-blocking one).</summary>
    public RemoteJob? Job { get; private set; }

    /// <summary>Adds <paramref name="tracer"/> as the next trace; returns its position.</summary>
    internal int Join(Tracer tracer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _traces.Add(tracer);
        return _traces.Count - 1;
    }

    /// <summary>The shape of a value an earlier trace keeps for a later one.</summary>
    internal ValueShape ShapeOf(SessionRef reference)
    {
        var tracer = _traces[reference.Trace];
        return tracer.ShapeOf(tracer.Graph.Nodes[reference.Node]);
    }

    /// <summary>Runs the session's traces, unless an exception is propagating or a trace is still being recorded.</summary>
    /// <exception cref="TracingException">A trace of the session has not been disposed.</exception>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _model.ActiveSession = null;
        var prepared = new List<Tracer.PreparedTrace>();
        try
        {
            if (_exceptions.IsPropagating)
            {
                return;
            }
            if (_model.ActiveTracer is not null)
            {
                throw new TracingException("The session was disposed while one of its traces was still recording; dispose the trace first.");
            }
            foreach (var tracer in _traces)
            {
                prepared.Add(tracer.Prepare(reference => reference with { Node = reference.Node + prepared[reference.Trace].Offset }));
            }
            Run(prepared);
        }
        finally
        {
            foreach (var tracer in _traces)
            {
                tracer.Abandon();
                tracer.Graph.Dispose();
            }
            foreach (var trace in prepared)
            {
                trace.Dispose();
            }
        }
    }

    private void Run(IReadOnlyList<Tracer.PreparedTrace> prepared)
    {
        void Fill(IReadOnlyList<GraphResult> results)
        {
            for (var trace = 0; trace < results.Count; trace++)
            {
                _traces[trace].Fill(results[trace], prepared[trace].Offset);
            }
        }

        if (_remote is null)
        {
            Fill(SessionRunner.Run(_model, [.. prepared.Select(trace => trace.Trace)]));
            return;
        }
        Job = RemoteJob.Submit(_remote, Tracer.RemoteRequest(_model, prepared), Fill);
        foreach (var tracer in _traces)
        {
            tracer.Submitted(Job);
        }
        if (_remote.Blocking)
        {
            Job.Wait();
        }
    }
}
