using System.Runtime.InteropServices;

namespace NnSight;

/// <summary>
/// Tells whether an exception other than the one being handled when a context began is propagating: the runtime reports
/// the exception of an enclosing catch or unwinding finally too, so only a change since the start means failure.
/// </summary>
internal readonly struct ExceptionWatch()
{
    private readonly IntPtr _atStart = Marshal.GetExceptionPointers();

    public bool IsPropagating
    {
        get
        {
            var now = Marshal.GetExceptionPointers();
            return now != IntPtr.Zero && now != _atStart;
        }
    }
}
