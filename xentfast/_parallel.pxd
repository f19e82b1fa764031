# When threads pay for themselves, and how reductions are split.

# Elements of transcendental work below which a parallel region costs more
# than it saves (a region costs a few microseconds; an element ~10-20 ns).
cdef enum:
    PARALLEL_MIN_WORK = 8192
    # Reductions are summed in blocks of this many terms; block sums are then
    # added with compensation, so the result does not depend on the thread count.
    BLOCK = 1024


cdef inline bint worth_threads(Py_ssize_t work, int n_threads) noexcept nogil:
    # For prange(..., num_threads=n_threads, use_threads_if=worth_threads(work, n_threads)):
    # when False, the loop runs serially without entering a parallel region at all.
    return work >= PARALLEL_MIN_WORK and n_threads > 1



cdef inline bint small_work(Py_ssize_t work) noexcept nogil:
    # Work this small runs with the GIL held: releasing and taking it back costs
    # more than the work, which is short enough (microseconds) not to hold up
    # other Python threads.  Larger work releases the GIL, on one thread too.
    return work < PARALLEL_MIN_WORK
