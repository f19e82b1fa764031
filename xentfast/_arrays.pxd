# Checks of NumPy arrays passed to kernels as raw pointers.  A kernel that takes
# the arrays themselves, not memoryviews, skips the buffer acquisition that
# costs more than the work on a small input.
cimport numpy as cnp


cdef inline bint plain_array(cnp.ndarray a, int type_num, Py_ssize_t n) noexcept:
    # C-contiguous, aligned, native byte order, of this type and size: what a
    # const floating[::1] memoryview would have checked.
    return (cnp.PyArray_TYPE(a) == type_num and cnp.PyArray_SIZE(a) == n
            and cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a)
            and cnp.PyArray_ISNOTSWAPPED(a))


cdef inline bint plain_pair(cnp.ndarray x, cnp.ndarray out) noexcept:
    # x and a writeable out: plain float32 or float64 arrays of one dtype and size.
    cdef int type_num = cnp.PyArray_TYPE(x)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    return ((type_num == cnp.NPY_DOUBLE or type_num == cnp.NPY_FLOAT)
            and plain_array(x, type_num, n) and plain_array(out, type_num, n)
            and cnp.PyArray_ISWRITEABLE(out))
