/*
 * Lets the Intel MKL inside libtorch use its AVX2 (and AVX-512) kernels on AMD and other non-Intel x86-64 CPUs.
 *
 * MKL picks its matrix-product kernels by CPU vendor: on a non-Intel CPU it runs slower generic code even when the CPU
 * has AVX2 and FMA. It asks this function whether the CPU is Intel's, and libtorch resolves the name through its
 * dynamic symbol table, so a library loaded ahead of libtorch with LD_PRELOAD answers in its place; MKL still reads the
 * CPU's instruction sets and runs only kernels the CPU has. Nothing else changes. Intel does not support its kernels on
 * other vendors' CPUs: this is opt-in, per process.
 *
 *   cc -shared -fPIC -O2 -o libmkl_intel_kernels.so tools/mkl-intel-kernels/mkl_intel_kernels.c
 *   LD_PRELOAD=$PWD/libmkl_intel_kernels.so dotnet run --project samples/Quickstart
 *
 * README.md, "Speed against PyTorch", has the measurements.
 */
int mkl_serv_intel_cpu_true(void)
{
    return 1;
}
