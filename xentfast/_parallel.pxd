# When threads pay for themselves, and how reductions are split.

# Elements of transcendental work below which a parallel region costs more
# than it saves (a region costs a few microseconds; an element ~10-20 ns).
cdef enum:
    PARALLEL_MIN_WORK = 8192
    # Reductions are summed in blocks of this many terms; block sums are then
    # added with compensation, so the result does not depend on the thread count.
    BLOCK = 1024


cdef inline int threads_for(Py_ssize_t work, int n_threads) noexcept nogil:
    if work < PARALLEL_MIN_WORK or n_threads < 1:
        return 1
    return n_threads
