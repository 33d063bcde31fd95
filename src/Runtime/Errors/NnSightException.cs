namespace NnSight;

/// <summary>
/// The base of every error NnSight raises, the models and loading included; the message names module paths, shapes,
/// files and keys, and the source line of the proxy involved. Invalid arguments are .NET's <see cref="ArgumentException"/>.
/// </summary>
public class NnSightException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NnSightException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}

/// <summary><c>Value</c> was read before the tracing context that produces it ran.</summary>
public sealed class ValueNotReadyException(string message) : NnSightException(message);

/// <summary><c>Value</c> was read on a proxy that was never <c>Save()</c>d: only saved values outlive the run.</summary>
public sealed class ValueNotSavedException(string message) : NnSightException(message);

/// <summary>The run never reached a module access of the graph (a step past the last generated token, a module the
/// forward pass does not call).</summary>
public sealed class ModuleNotCalledException(string message) : NnSightException(message);

/// <summary>The graph asks to set a module's value from a value the forward pass computes only later.</summary>
public sealed class OutOfOrderException(string message) : NnSightException(message);

/// <summary>
/// A gradient cannot be had: <c>Backward()</c> on a non-scalar without a gradient, <c>.Grad</c> in a trace that never
/// calls <c>Backward()</c>, of a tuple or of an integer value, or of a value the backward pass never reaches.
/// </summary>
public sealed class GradientException(string message) : NnSightException(message);

/// <summary>TorchSharp has no native libtorch backend: the application lacks a libtorch package.</summary>
public sealed class LibTorchNotFoundException(string message, Exception? innerException = null) : NnSightException(message, innerException);

/// <summary>The model has no module at a path, or a module list has no element at an index.</summary>
public sealed class ModuleNotFoundException(string message) : NnSightException(message);

/// <summary>A value does not fit the shape or tuple structure it replaces or is indexed with.</summary>
public sealed class ShapeMismatchException(string message) : NnSightException(message);

/// <summary><c>shape</c> was read where no shape rule applies (a module tree without rules, an <c>Apply</c> result).</summary>
public sealed class ShapeUnknownException(string message) : NnSightException(message);

/// <summary>The tracing API was used in a way it does not allow (a module access outside <c>Invoke</c>, nested
/// invocations, a second trace on a busy model).</summary>
public sealed class TracingException(string message) : NnSightException(message);

/// <summary>An operation of the graph failed while the model ran; the inner exception is TorchSharp's.</summary>
public sealed class InterventionException(string message, Exception? innerException = null) : NnSightException(message, innerException);

/// <summary>A graph cannot be serialized or deserialized (local-only code, an unknown op, a wrong version).</summary>
public sealed class GraphFormatException(string message, Exception? innerException = null) : NnSightException(message, innerException);
