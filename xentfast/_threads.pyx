# How many threads the kernels use.
#
# The OpenMP maximum of the calling thread (omp_get_max_threads: what
# OMP_NUM_THREADS, omp_set_num_threads and threadpoolctl.threadpool_limits set),
# capped by xentfast's own setting (set_num_threads, XENTFAST_NUM_THREADS, and 1
# in a forked child).  get_num_threads() runs once per API call, so it is
# compiled: one C call, no Python arithmetic.

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int xentfast_openmp_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int xentfast_openmp_max_threads(void) { return 1; }
    #endif
    """
    int xentfast_openmp_max_threads() noexcept nogil

# xentfast's cap on the thread count; 0 means none (the OpenMP maximum alone).
cdef int cap = 0


def set_cap(int n):
    """Cap the thread count at n (0: no cap).  The caller has validated n."""
    global cap
    cap = n


def get_cap():
    """The cap set by set_cap (0: none)."""
    return cap


def openmp_max_threads():
    """omp_get_max_threads() of the calling thread (1 in a build without OpenMP)."""
    return xentfast_openmp_max_threads()


def get_num_threads():
    """How many threads the kernels use.

    Returns
    -------
    int
        OpenMP's maximum for the calling thread (``omp_get_max_threads()``,
        which ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits`` set),
        capped by :func:`set_num_threads`; 1 in a build without OpenMP, and in
        a forked child until it calls :func:`set_num_threads`.

    See Also
    --------
    set_num_threads, show_config

    Examples
    --------
    >>> import xentfast
    >>> xentfast.get_num_threads() >= 1
    True
    """
    cdef int available = xentfast_openmp_max_threads()
    return cap if 0 < cap < available else available
