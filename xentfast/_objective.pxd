# The seam between the solvers and the data: an objective the solvers ask
# questions of (see _objective.pyx).  Compiled once, not per kernel set: the
# kernel sets' objectives (_linear.pyx) subclass it, and the solvers
# (_solvers.pyx) call it through its virtual methods.

cdef class Objective:
    cdef readonly Py_ssize_t n_samples
    cdef readonly Py_ssize_t n_features
    cdef readonly Py_ssize_t n_classes      # 1: binary (one logit), else k
    cdef readonly bint fit_intercept
    cdef readonly double alpha              # the L2 term alpha/2 ||coef||^2
    cdef readonly Py_ssize_t n_params       # n_classes * (n_features + fit_intercept)

    cdef int evaluate(self, const double* w, const Py_ssize_t* rows, Py_ssize_t n_rows,
                      double* loss, double* grad, double* hess,
                      bint keep_curvature) except -1 nogil
    cdef int hessian_product(self, const double* v, double* out) except -1 nogil
    cdef int gram_product(self, const double* v, double* out) except -1 nogil
