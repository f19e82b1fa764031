# Facts fixed when the extensions were compiled, for show_config() and the tests.

cdef extern from *:
    """
    #ifdef _OPENMP
    #define XENTFAST_OPENMP 1
    #else
    #define XENTFAST_OPENMP 0
    #endif
    """
    int XENTFAST_OPENMP

HAVE_OPENMP = bool(XENTFAST_OPENMP)

cdef extern from *:
    """
    #if defined(__clang__)
    #define XENTFAST_COMPILER "clang " __clang_version__
    #elif defined(__GNUC__)
    #define XENTFAST_COMPILER "gcc " __VERSION__
    #elif defined(_MSC_VER)
    #define XENTFAST_COMPILER "msvc"
    #else
    #define XENTFAST_COMPILER "unknown"
    #endif
    """
    const char* XENTFAST_COMPILER

COMPILER = XENTFAST_COMPILER.decode()

cdef extern from *:
    """
    /* Whether this CPU (and its OS) can run the AVX2 + FMA kernels. */
    static int xentfast_cpu_has_avx2_fma(void) {
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    #else
        return 0;
    #endif
    }
    """
    int xentfast_cpu_has_avx2_fma() noexcept nogil

CPU_HAS_AVX2_FMA = bool(xentfast_cpu_has_avx2_fma())

cdef extern from *:
    """
    /* Whether this CPU (and its OS: libgcc checks the saved register state)
       can run the AVX-512 kernels, built for F, CD, VL, DQ and BW. */
    static int xentfast_cpu_has_avx512(void) {
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
            && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512bw");
    #else
        return 0;
    #endif
    }
    """
    int xentfast_cpu_has_avx512() noexcept nogil

CPU_HAS_AVX512 = bool(xentfast_cpu_has_avx512())
