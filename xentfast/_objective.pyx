# The objective the solvers minimise, as questions they ask of the data:
#
#   evaluate(w)          the loss, and optionally its gradient and Hessian,
#                        at parameters w (over all samples or a mini-batch);
#                        keep_curvature keeps what Hessian products need
#   hessian_product(v)   H v at the w of the last evaluate(keep_curvature)
#   gram_product(v)      Xaᵀ S Xa v / Σs (for the step size bound of gd)
#
# The objective is  Σ_i s_i CE_i / Σ_i s_i + alpha/2 ||coef||²  of a logistic
# (n_classes == 1) or softmax model; parameters are flat, one row of
# (n_features coefficients, then the intercept if fit_intercept) per class.
#
# Data in memory (dense or sparse X, each kernel set) subclass this class in
# _linear.pyx and override the cdef methods, which run without the GIL.  An
# objective written in Python (the Dask one, whose passes run on a cluster)
# subclasses it too and overrides the _py_* methods instead; the cdef methods
# below call them with the GIL.  Either way the solvers see one interface.
import numpy as np


cdef class Objective:

    def __init__(self, Py_ssize_t n_samples, Py_ssize_t n_features, Py_ssize_t n_classes,
                 bint fit_intercept, double alpha):
        self.n_samples = n_samples
        self.n_features = n_features
        self.n_classes = n_classes
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.n_params = n_classes * (n_features + fit_intercept)

    # --- what a Python subclass overrides ---------------------------------

    def _py_evaluate(self, w, bint want_grad, bint want_hess, bint keep_curvature):
        """(loss, gradient or None, Hessian or None) at flat parameters w."""
        raise NotImplementedError(f"{type(self).__name__} does not evaluate the objective")

    def _py_hessian_product(self, v):
        raise NotImplementedError(f"{type(self).__name__} has no Hessian products")

    def _py_gram_product(self, v):
        raise NotImplementedError(f"{type(self).__name__} has no Gram products")

    def set_alpha(self, double alpha):
        """Change the L2 penalty (a regularisation path refits at several)."""
        self.alpha = alpha

    def reserve_hessian(self):
        """Allocate what passes that form the Hessian need (before the solver runs)."""

    def reserve_curvature(self):
        """Allocate what evaluate(keep_curvature) keeps for Hessian products."""

    # --- the interface the solvers call -----------------------------------

    cdef int evaluate(self, const double* w, const Py_ssize_t* rows, Py_ssize_t n_rows,
                      double* loss, double* grad, double* hess,
                      bint keep_curvature) except -1 nogil:
        cdef Py_ssize_t p = self.n_params
        with gil:
            if rows != NULL:
                raise ValueError(f"{type(self).__name__} cannot evaluate mini-batches")
            value, g, h = self._py_evaluate(_copy(w, p), grad != NULL, hess != NULL,
                                            keep_curvature)
            loss[0] = value
            if grad != NULL:
                _store(g, grad, p)
            if hess != NULL:
                _store(h, hess, p * p)
        return 0

    cdef int hessian_product(self, const double* v, double* out) except -1 nogil:
        with gil:
            _store(self._py_hessian_product(_copy(v, self.n_params)), out, self.n_params)
        return 0

    cdef int gram_product(self, const double* v, double* out) except -1 nogil:
        with gil:
            _store(self._py_gram_product(_copy(v, self.n_params)), out, self.n_params)
        return 0

    # --- the same, from Python (tests, the API layer) ---------------------

    def loss(self, w):
        """The objective at flat parameters w."""
        cdef const double[::1] wv = self._parameters(w)
        cdef double value
        self.evaluate(&wv[0], NULL, 0, &value, NULL, NULL, False)
        return value

    def loss_and_grad(self, w):
        """(objective, gradient) at flat parameters w."""
        cdef const double[::1] wv = self._parameters(w)
        cdef double[::1] grad = np.empty(self.n_params)
        cdef double value
        self.evaluate(&wv[0], NULL, 0, &value, &grad[0], NULL, False)
        return value, np.asarray(grad)

    def loss_grad_hess(self, w):
        """(objective, gradient, Hessian (n_params, n_params)) at flat parameters w."""
        cdef const double[::1] wv = self._parameters(w)
        cdef double[::1] grad = np.empty(self.n_params)
        cdef double[:, ::1] hess = np.empty((self.n_params, self.n_params))
        cdef double value
        self.evaluate(&wv[0], NULL, 0, &value, &grad[0], &hess[0, 0], False)
        return value, np.asarray(grad), np.asarray(hess)

    def hessian_vector(self, w, v):
        """H(w) v, through evaluate(w, keep_curvature) and hessian_product(v)."""
        cdef const double[::1] wv = self._parameters(w)
        cdef const double[::1] vv = self._parameters(v)
        cdef double[::1] out = np.empty(self.n_params)
        cdef double value
        self.evaluate(&wv[0], NULL, 0, &value, NULL, NULL, True)
        self.hessian_product(&vv[0], &out[0])
        return np.asarray(out)

    def _parameters(self, w):
        # Aligned as well as contiguous: parameters unpickled by a Dask worker may
        # sit at any byte offset, and the kernels read them as doubles.
        w = np.require(w, np.float64, ("C", "A")).reshape(-1)
        if w.shape[0] != self.n_params:
            raise ValueError(f"expected {self.n_params} parameters, got {w.shape[0]}")
        return w


cdef object _copy(const double* values, Py_ssize_t n):
    # A NumPy copy of n doubles, for a Python subclass (which may keep it).
    return np.asarray(<double[:n]><double*>values).copy() if n > 0 else np.empty(0)


cdef int _store(object values, double* dst, Py_ssize_t n) except -1:
    cdef const double[::1] flat = np.require(values, np.float64, ("C", "A")).reshape(-1)
    cdef Py_ssize_t i
    if flat.shape[0] != n:
        raise ValueError(f"expected {n} values from the objective, got {flat.shape[0]}")
    for i in range(n):
        dst[i] = flat[i]
    return 0
