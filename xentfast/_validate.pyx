# Value checks over flat C-contiguous arrays, one pass with no temporaries.
# Each returns the index of the first offending entry, or -1.  The Python
# layer (_checks.py) turns that index into a ValueError naming the value.
# This module is built for the baseline (SSE2) only: there gcc cannot narrow a
# double comparison's 64-bit mask into an int flag, so the float64 loops keep
# their flag in a double set by a select, or they would not vectorise (1.4 ns
# per element instead of 0.2).
# Also the layout check made before any array reaches a kernel.
from cython cimport floating
from libc.math cimport isfinite
cimport numpy as cnp

cnp.import_array()


def aligned_array(a):
    """np.asarray(a), copied if it is not aligned for its dtype (one C call, where
    np.asarray and a check would be two)."""
    return cnp.PyArray_FROM_OF(a, cnp.NPY_ARRAY_ALIGNED | cnp.NPY_ARRAY_ENSUREARRAY)


def c_contiguous_aligned(cnp.ndarray a not None):
    """``a`` itself if it is C-contiguous and aligned, else a copy that is.

    The kernels read arrays through typed pointers, which must be aligned for
    their type: an array viewing a buffer at an odd offset is copied.
    """
    if cnp.PyArray_CHKFLAGS(a, cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED):
        return a
    return cnp.PyArray_NewCopy(a, cnp.NPY_CORDER)


def is_c_contiguous_aligned(cnp.ndarray a not None):
    """Whether a kernel may write into ``a`` as a flat array."""
    return cnp.PyArray_CHKFLAGS(a, cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED)


def direct_out(cnp.ndarray x not None, out, bint same_ok):
    """``out`` if a kernel may write its result straight into it while reading ``x``:
    an ndarray (not a subclass) of x's dtype in native byte order and of x's shape,
    writeable, C-contiguous and aligned, whose memory lies apart from x's (or, with
    ``same_ok``, is exactly x's: an elementwise map reads each entry before writing
    it).  Else None, and the caller takes its checked path, which raises the errors
    or copies.  One C call, where the checks in Python cost about 2 µs."""
    if type(out) is not cnp.ndarray:
        return None
    cdef cnp.ndarray o = <cnp.ndarray>out
    cdef int nd = cnp.PyArray_NDIM(x), i
    if (cnp.PyArray_TYPE(o) != cnp.PyArray_TYPE(x) or not cnp.PyArray_ISNOTSWAPPED(o)
            or cnp.PyArray_NDIM(o) != nd
            or not cnp.PyArray_CHKFLAGS(o, cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED
                                        | cnp.NPY_ARRAY_WRITEABLE)):
        return None
    for i in range(nd):
        if cnp.PyArray_DIM(o, i) != cnp.PyArray_DIM(x, i):
            return None
    cdef char* x_start = <char*>cnp.PyArray_DATA(x)
    cdef char* o_start = <char*>cnp.PyArray_DATA(o)
    cdef Py_ssize_t nbytes = cnp.PyArray_NBYTES(x)
    if o_start == x_start:
        return out if same_ok or nbytes == 0 else None
    if o_start + nbytes <= x_start or x_start + nbytes <= o_start:
        return out
    return None


def first_outside_unit_interval(const floating[::1] a, bint allow_nan):
    """First entry outside [0, 1]; nan counts as outside unless ``allow_nan``."""
    cdef Py_ssize_t i, n = a.shape[0], found = -1
    cdef int bad = 0
    cdef double v, wide = 0.0
    with nogil:
        # No early exit: an OR over all entries vectorises; valid input is the common
        # case.  float64 keeps the flag in a double set by a select (see the top).
        if floating is double:
            if allow_nan:
                for i in range(n):
                    v = a[i]
                    wide = 1.0 if (v < 0.0) | (v > 1.0) else wide
            else:
                for i in range(n):
                    v = a[i]
                    wide = 1.0 if (v < 0.0) | (v > 1.0) | (v != v) else wide
            bad = wide != 0.0
        else:
            for i in range(n):
                v = a[i]
                bad |= (v < 0.0) | (v > 1.0) | ((v != v) & (not allow_nan))
        if bad:
            for i in range(n):
                v = a[i]
                if v < 0.0 or v > 1.0 or (v != v and not allow_nan):
                    found = i
                    break
    return found


def first_bad_weight(const floating[::1] a):
    """First entry that is negative, infinite or nan."""
    cdef Py_ssize_t i, n = a.shape[0], found = -1
    cdef int bad = 0
    cdef double wide = 0.0
    with nogil:
        # a - a is nan exactly for ±inf and nan
        if floating is double:
            for i in range(n):
                wide = 1.0 if (a[i] < 0.0) | ((a[i] - a[i]) != 0.0) else wide
            bad = wide != 0.0
        else:
            for i in range(n):
                bad |= (a[i] < 0.0) | ((a[i] - a[i]) != 0.0)
        if bad:
            for i in range(n):
                if not (isfinite(a[i]) and a[i] >= 0.0):
                    found = i
                    break
    return found


def first_bad_class_index(const Py_ssize_t[::1] targets, Py_ssize_t n_classes,
                          Py_ssize_t ignore_index, bint has_ignore_index):
    """First index outside [0, n_classes) that is not ignore_index."""
    cdef Py_ssize_t i, t, n = targets.shape[0], found = -1
    with nogil:
        for i in range(n):
            t = targets[i]
            if (t < 0 or t >= n_classes) and not (has_ignore_index and t == ignore_index):
                found = i
                break
    return found


def first_nonfinite(const floating[::1] a):
    """First entry that is nan or ±inf."""
    cdef Py_ssize_t i, n = a.shape[0], found = -1
    cdef int bad = 0
    cdef double wide = 0.0
    with nogil:
        if floating is double:
            for i in range(n):
                wide = 1.0 if (a[i] - a[i]) != 0.0 else wide
            bad = wide != 0.0
        else:
            for i in range(n):
                bad |= (a[i] - a[i]) != 0.0
        if bad:
            for i in range(n):
                if not isfinite(a[i]):
                    found = i
                    break
    return found


ctypedef fused csr_index:
    cnp.int32_t
    cnp.int64_t


def csr_structure_error(const csr_index[::1] indptr, const csr_index[::1] indices,
                        Py_ssize_t n_features, Py_ssize_t n_data):
    """What is wrong with a CSR structure (a sentence), or None: indptr must start
    at 0, never decrease and end within indices and data; the indices of the
    stored entries must lie in [0, n_features).  Unsorted or repeated indices
    are allowed (repeated ones add up)."""
    cdef Py_ssize_t i, n_rows = indptr.shape[0] - 1, end, first_bad = -1
    cdef long long index
    cdef int bad = 0
    if n_rows < 0 or indptr[0] != 0:
        return "indptr must start at 0"
    end = indptr[n_rows]
    if end > indices.shape[0] or end > n_data:
        return f"indptr ends at {end}, beyond the {min(indices.shape[0], n_data)} stored entries"
    with nogil:
        for i in range(n_rows):
            bad |= indptr[i + 1] < indptr[i]
    if bad:
        return "indptr decreases"
    with nogil:
        for i in range(end):
            bad |= (indices[i] < 0) | (indices[i] >= n_features)
        if bad:
            for i in range(end):
                if indices[i] < 0 or indices[i] >= n_features:
                    first_bad = i
                    break
    if first_bad >= 0:
        return (f"column index {indices[first_bad]} outside [0, {n_features}) "
                f"at entry {first_bad}")
    return None
