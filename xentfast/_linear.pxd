# The in-memory objective of logistic and softmax regression (_linear.pyx):
# how the data and the work of one pass are described to the kernels.
from xentfast._objective cimport Objective


cdef enum Layout:
    C_ROWS        # dense X, features contiguous (element (i, j) at i*row_stride + j)
    F_COLUMNS     # dense X, samples contiguous (element (i, j) at i + j*col_stride)
    CSR_ROWS      # sparse X: row i is data/indices[indptr[i]:indptr[i + 1]]


cdef enum Mode:
    EVALUATE          # logits -> loss, residuals (gradient), curvature (Hessian)
    HESSIAN_PRODUCT   # Xa v -> curvature times it -> Xaᵀ of that
    GRAM_PRODUCT      # Xa v -> s times it -> Xaᵀ of that


cdef struct Problem:
    # --- the data ---
    Layout layout
    bint X_is_float32
    const void* X                 # dense values, or the CSR data array
    Py_ssize_t row_stride, col_stride
    const void* indptr            # CSR, int32 or int64 like indices
    const void* indices
    bint index64
    Py_ssize_t n_samples, n_features, n_classes   # n_classes == 1: binary
    Py_ssize_t work_per_row       # multiply-adds per row of a gradient pass
    bint fit_intercept
    double alpha
    const double* y               # binary targets in [0, 1]
    const Py_ssize_t* labels      # class indices
    const double* sample_weight   # NULL: every weight 1
    double total_weight           # Σ s_i over all samples (mini-batches are scaled by it)
    int n_threads
    # --- buffers, owned by the InMemoryObjective as NumPy arrays ---
    Py_ssize_t max_chunks         # chunk slots: max_chunks * slot_size doubles
    Py_ssize_t slot_size          # n_classes * (n_features + 1) + 2
    double* slots
    Py_ssize_t tile_rows          # rows per tile (less than TILE only for huge gathers)
    Py_ssize_t scratch_size       # doubles of scratch per group
    double* scratch
    Py_ssize_t hess_dim           # side of one class block of a group's Hessian
    Py_ssize_t max_hess_groups    # 0 until reserve_hessian()
    double* hess_groups           # max_hess_groups * n_classes² * hess_dim² doubles
    double* hess_tiles            # dense: per group 2 * TILE * hess_dim doubles
    double* curvature             # n_samples (binary) or n_samples * n_classes, or NULL


cdef struct Pass:
    # One question asked of the data.
    Mode mode
    const double* w               # parameters (EVALUATE) or the vector v (products)
    const Py_ssize_t* rows        # a mini-batch's sample indices, or NULL for all
    Py_ssize_t n_rows
    bint want_grad, want_hess, keep_curvature


cdef class InMemoryObjective(Objective):
    cdef Problem problem
    cdef object arrays            # keeps X (or its CSR arrays), targets and weights alive
    cdef object buffers           # the NumPy arrays behind the Problem's buffers
    cdef double* _buffer(self, name, Py_ssize_t size) except NULL
