using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace NnSight.Models.Modules;

/// <summary>
/// libtorch's CPU matrix products run in Intel MKL, which picks its kernels by CPU vendor, and on AMD (and other
/// non-Intel x86-64) CPUs GPT-2-small's products ran up to 1.5× slower than OpenBLAS on the same cores. MKL refuses
/// its AVX2 branch there (<c>mkl_cbwr_set(MKL_CBWR_AVX2)</c> answers "unsupported branch"), but its
/// conditional-numerical-reproducibility mode with the branch chosen automatically (<c>MKL_CBWR=AUTO</c>) measured
/// 10–25 % faster on those products (<c>-- ops</c> against <c>-- ops … default-kernels</c>), and it makes results
/// repeatable run to run. The mode can only be set before MKL's first call in the process, so it is set when the first
/// model is created; a user's own <c>MKL_CBWR</c> wins, and Intel CPUs keep MKL's default. See
/// docs/architecture.md#cpu-kernels.
/// </summary>
internal static class MklKernels
{
    private const int AutoBranch = 2;     // MKL_CBWR_AUTO in mkl_service.h

    private static readonly Lazy<bool> Selected = new(Select);

    /// <summary>
    /// Sets MKL's reproducible mode, once per process, on a non-Intel x86-64 CPU unless <c>MKL_CBWR</c> is set; returns
    /// whether it is set (false when MKL had already run, and on any other CPU).
    /// </summary>
    public static bool SelectOnOtherVendors() => Selected.Value;

    private static bool Select()
    {
        if (!X86Base.IsSupported || Vendor() == "GenuineIntel" || Environment.GetEnvironmentVariable("MKL_CBWR") is not null)
        {
            return false;
        }
        // TorchSharp loads libtorch on first use; the name then resolves to the library already loaded.
        _ = TorchSharp.torch.get_num_interop_threads();
        return NativeLibrary.TryLoad(OperatingSystem.IsWindows() ? "torch_cpu.dll" : "libtorch_cpu.so", out var library)
            && NativeLibrary.TryGetExport(library, "mkl_serv_cbwr_set", out var set)
            && Marshal.GetDelegateForFunctionPointer<CbwrSet>(set)(AutoBranch) == 0;
    }

    /// <summary>The CPUID vendor string (EBX, EDX, ECX of leaf 0).</summary>
    private static string Vendor()
    {
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        Span<int> registers = [ebx, edx, ecx];
        return System.Text.Encoding.ASCII.GetString(MemoryMarshal.AsBytes(registers));
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CbwrSet(int branch);
}
