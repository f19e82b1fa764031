# The logistic / softmax regression objective, shared by the kernel module and
# the solvers.  Raw pointers so the solvers can call it without the GIL; the
# Python object LinearProblem owns the arrays they point into.

cdef enum Residual:
    CROSS_ENTROPY_RESIDUAL   # r = s (σ(z) - y), or s (softmax(z) - onehot(y)): the loss gradient
    GRAM_RESIDUAL            # r = s z: for X^T S X v in the power iteration


cdef struct Problem:
    const void* X             # float32 or float64, element (i, j) at X[i*row_stride + j*col_stride]
    bint X_is_float32
    Py_ssize_t n_samples, n_features, n_classes   # n_classes == 1: binary
    Py_ssize_t row_stride, col_stride
    const double* y           # binary targets in [0, 1] (n_classes == 1)
    const Py_ssize_t* labels  # class indices (n_classes > 1)
    const double* sample_weight   # NULL: every weight 1
    double alpha
    bint fit_intercept
    int n_threads
    double* scratch           # MAX_CHUNKS * (n_classes * (n_features + 1) + 1) doubles


cdef Py_ssize_t n_params(const Problem* P) noexcept nogil

cdef double loss_and_grad(const Problem* P, const double* w, double* grad,
                          const Py_ssize_t* rows, Py_ssize_t n_rows,
                          Residual residual) noexcept nogil


cdef class LinearProblem:
    cdef Problem problem
    cdef object arrays            # keeps X, y, labels and sample_weight alive
    cdef double[::1] scratch_buffer
