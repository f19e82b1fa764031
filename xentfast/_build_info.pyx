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
KERNEL_SET = "baseline (scalar libm exp/log)"
